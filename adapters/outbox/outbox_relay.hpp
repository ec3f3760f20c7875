// The outbox relay: publishes committed outbox rows to Kafka.
//
//   PostgreSQL outbox ──claim (FOR UPDATE SKIP LOCKED)──▶ [relay] ──produce──▶ Kafka
//        ▲                                                  │
//        └────────── mark published after delivery ◀────────┘
//
// A batch is claimed, produced (idempotent producer, acks=all), and marked
// published in the same transaction once Kafka acknowledged it; rows whose
// delivery failed stay unpublished and are retried with backoff, then set
// aside. Pipelined: the next batches are claimed and produced while earlier
// ones wait for their acknowledgements (up to `in_flight_batches`, each in
// its own transaction on its own connection). What to claim, produce, mark
// and retry is decided by runtime/relay_core, which the simulator runs too;
// this file does the SQL and the librdkafka calls around it. SKIP LOCKED
// makes several relays (on several nodes) safe. Woken by LISTEN/NOTIFY, with
// a polling fallback. Blocking I/O: spawn it detached.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "adapters/kafka/kafka_settings.hpp"

namespace troupe {

struct relay_config {
  std::string pg_url;
  kafka_settings kafka;
  int32_t batch = 500;
  /// Batches produced and not yet marked, at most (each holds a PostgreSQL
  /// connection and its transaction); 1: claim, produce, wait, mark.
  int32_t in_flight_batches = 3;
  std::chrono::milliseconds idle_poll{200};
  std::chrono::milliseconds delivery_timeout{10000};
  /// Produce attempts of one row before it is set aside (a row Kafka keeps
  /// refusing while the rows around it go through).
  int32_t max_attempts = 5;
  /// Longest the start-up scan for rows already on Kafka may take.
  std::chrono::milliseconds recovery_budget{1500};
};

struct relay_state;

caf::behavior outbox_relay(caf::stateful_actor<relay_state>* self,
                           relay_config cfg);

} // namespace troupe

#include "adapters/outbox/outbox_relay_state.hpp"
