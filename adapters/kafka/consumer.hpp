// The Kafka consumer actor: one per consumer group and node.
//
//   Kafka ──poll──▶ [consumer] ──job──▶ [delivery] ──event──▶ handler actor (service)
//                      │ ◀──── outcome ──────┘ ◀── reply after commit ──┘
//                      ├─ offsets: commits only the contiguous done prefix
//                      ├─ failures, malformed messages: see actors/delivery.hpp
//                      ├─ store outage: pauses fetching until it is back
//                      └─ revoke: pauses the partitions, waits (up to
//                         `revoke_grace`) for their work in flight, commits,
//                         tells the owner, then hands them back to the group
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

#include "actors/store.hpp"
#include "adapters/kafka/kafka_settings.hpp"
#include "runtime/backoff.hpp"
#include "runtime/consumer_core.hpp"
#include "runtime/event_routes.hpp"

namespace troupe {

struct consumer_config {
  std::string name;    ///< the consumer group is `<group_prefix>.<name>`
  event_routes routes; ///< topic -> handler
  /// Decodes each message; empty: the envelope codec (envelope/codec.hpp).
  consumer_core::decoder decode;
  kafka_settings kafka;
  dead_letter_actor dead_letters; ///< the PostgreSQL store
  /// Takes dead letters the store refuses straight to Kafka.
  dead_letter_fallback_actor dead_letter_fallback;
  size_t max_in_flight = 2000;
  retry_policy retry;
  std::chrono::milliseconds handler_timeout{30000};
  std::chrono::milliseconds commit_interval{50};
  std::chrono::milliseconds revoke_grace{5000};
  /// Partition changes of the first routed topic (for ownership).
  std::function<void(const std::vector<int32_t>&)> on_assigned;
  std::function<void(const std::vector<int32_t>&)> on_revoked;
};

struct consumer_state;

/// Throws std::runtime_error when librdkafka refuses the configuration.
caf::behavior kafka_consumer(caf::stateful_actor<consumer_state>* self,
                             consumer_config cfg);

} // namespace troupe

#include "adapters/kafka/consumer_state.hpp"
