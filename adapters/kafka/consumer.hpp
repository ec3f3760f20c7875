// The Kafka consumer actor: one per consumer group and node.
//
//   Kafka ──poll──▶ [consumer] ──decoded event──▶ handler actor (service)
//                      │ ◀──────── reply after commit ──────┘
//                      ├─ offsets: commits only the contiguous done prefix
//                      ├─ failures: retries with backoff, then dead-letters
//                      └─ malformed: dead-letters at once
//
// Runs librdkafka's poll loop with bounded waits, so replies, timers and exit
// messages get through between polls; spawn it detached (blocking I/O). The
// rebalance callback runs on the actor's own thread, inside poll.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "backoff.hpp"
#include "kafka_settings.hpp"

namespace troupe {

struct consumer_config {
  std::string name; ///< the consumer group is `<group_prefix>.<name>`
  std::map<std::string, caf::actor> routes; ///< topic -> handler
  kafka_settings kafka;
  caf::actor dead_letters; ///< accepts `dead_letter` (the PostgreSQL store)
  size_t max_in_flight = 2000;
  retry_policy retry;
  std::chrono::milliseconds handler_timeout{30000};
  std::chrono::milliseconds commit_interval{50};
  /// Partition changes of the first routed topic (for ownership).
  std::function<void(const std::vector<int32_t>&)> on_assigned;
  std::function<void(const std::vector<int32_t>&)> on_revoked;
};

struct consumer_state;

/// Throws std::runtime_error when librdkafka refuses the configuration.
caf::behavior kafka_consumer(caf::stateful_actor<consumer_state>* self,
                             consumer_config cfg);

} // namespace troupe

#include "consumer_state.hpp"
