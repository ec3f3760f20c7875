// The outbox relay: publishes committed outbox rows to Kafka.
//
//   PostgreSQL outbox ──claim (FOR UPDATE SKIP LOCKED)──▶ [relay] ──produce──▶ Kafka
//        ▲                                                  │
//        └────────── mark published after delivery ◀────────┘
//
// A batch is claimed, produced (idempotent producer, acks=all), and marked
// published in the same transaction once Kafka acknowledged it; rows whose
// delivery failed stay unpublished and are retried. SKIP LOCKED makes several
// relays (on several nodes) safe. Woken by LISTEN/NOTIFY, with a polling
// fallback. Blocking I/O: spawn it detached.
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
