// A consumer of the simulated Kafka (sim/kafka.hpp), for the simulator and
// the in-memory bus: the production logic (runtime/consumer_core and the
// delivery actor, with its retries and dead letters) around the simulated
// client instead of librdkafka.
//
//   [sim::kafka] ──fetch──▶ [sim consumer] ──job──▶ [delivery] ──event──▶ handler
//        ▲ commit (generation-checked) ◀──── outcome ──┘
//
// It polls when the bus wakes it (a record on one of its partitions, a new
// group generation) and, while something waits on time (uncommitted work, a
// revocation, a backlog, a pause), every `poll_interval`: it notices
// rebalances (a new group generation: revoke everything, wait for the work
// in flight up to `revoke_grace`, commit what is done, then take the new
// assignment from the group's committed offsets, as an eager rebalance
// does), fetches, and commits the done prefix every `commit_interval`. An
// idle consumer costs nothing, as a fetch waiting at a broker does not. It never leaves its group
// by itself: a crash leaves the member in the group until the simulator
// says its session timed out.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/store.hpp"
#include "runtime/backoff.hpp"
#include "runtime/consumer_core.hpp"
#include "runtime/delivery.hpp"
#include "runtime/event_routes.hpp"
#include "sim/kafka.hpp"

namespace troupe::sim {

/// From the bus to a consumer: something new to fetch or a new generation.
using wake_atom = caf::atom_constant<caf::atom("wake")>;

struct consumer_config {
  std::string group;  ///< the consumer group, e.g. "payment"
  std::string member; ///< the member id, e.g. the node's id
  std::shared_ptr<kafka> bus;
  event_routes routes;
  consumer_core::decoder decode;
  dead_letter_actor dead_letters;
  dead_letter_fallback_actor fallback;
  retry_policy retry;
  size_t max_in_flight = 64;
  size_t fetch_max = 16; ///< records per partition and poll
  std::chrono::milliseconds poll_interval{5};
  std::chrono::milliseconds commit_interval{20};
  std::chrono::milliseconds revoke_grace{2000};
  std::chrono::milliseconds handler_timeout{30000};
  /// Partition changes of the first routed topic (ownership).
  std::function<void(const std::vector<int32_t>&)> on_assigned;
  std::function<void(const std::vector<int32_t>&)> on_revoked;
  /// Jitter in [0, 1) and the time as text, for the delivery actor.
  std::function<double()> unit;
  std::function<std::string()> now;
  /// Sees every job handed to delivery (the simulator's trace).
  std::function<void(const delivery_job&)> on_job;
};

struct consumer_state {
  static inline const char* name = "sim_consumer";
  consumer_config cfg;
  std::unique_ptr<consumer_core> core;
  delivery_actor delivery;
  uint64_t generation = 0; ///< of the assignment held
  std::vector<topic_partition> assigned;
  std::map<std::pair<std::string, int32_t>, int64_t> position;
  bool revoking = false;
  bool outage = false;
  bool paused = false;
  bool uncommitted = false; ///< work completed since the last commit
  bool backlog = false;     ///< records left after the last fetch
  bool timer_armed = false; ///< a poll is on its way
  caf::actor_clock::time_point last_commit;
  uint64_t commits_refused = 0;
};

caf::behavior consumer(caf::stateful_actor<consumer_state>* self,
                       consumer_config cfg);

} // namespace troupe::sim
