// One run of the whole saga under simulation, chosen by one seed.
//
//   orders ──create_order──▶ [memory_store of node a/b/c] ──▶ memory_db (one database)
//                                                                 │ outbox
//   [simulated relay] ◀───────────────────────────────────────────┘
//        │ produce (sometimes twice)
//        ▼
//   [sim::kafka] ──▶ sim consumers of every node (payment, inventory,
//                    notification, analytics, orchestrator) ──▶ delivery ──▶
//                    the production services and saga router (orchestrators)
//
// Everything runs on CAF's test coordinator: one thread, simulated time,
// and the next actor to run picked by the seed, so one seed is one
// interleaving and replays bit for bit. The seed also picks the faults:
// node crashes and restarts (a rebalance, sagas rehydrated from the store),
// consumer crashes before their commit (redelivery), duplicate publishes,
// poison messages, store outages, commits whose outcome is unknown, commits
// answered after the requester's timeout, the broker down for a while, a
// stale owner that keeps running after its partitions moved, and clock
// jumps past the saga deadline. Each saga write is checked as it is applied
// (its writer holds the partition's latest claim); after the fault window
// the run goes on until every order should be final (liveness, with a
// stated bound), then the invariants are checked against the database.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace troupe::simulation {

struct options {
  uint64_t seed = 1;
  int32_t orders = 50;
  int32_t nodes = 3;
  int32_t partitions = 3;
  bool trace = false;
  std::string mutant; ///< empty: the engine as shipped
};

struct result {
  std::vector<std::string> violations; ///< empty: every invariant held
  std::vector<std::string> trace;      ///< with `options::trace`
  double simulated_seconds = 0;
  int32_t orders = 0;
  uint64_t steps = 0; ///< actor runs
  /// Liveness: every order was final this long after its deadline or the
  /// end of the last fault, whichever came later.
  int64_t liveness_bound_ms = 0;
};

result run(const options& opts);

/// The deliberate defects troupe-sim can switch on, by name.
const std::vector<std::string>& mutant_names();

} // namespace troupe::simulation
