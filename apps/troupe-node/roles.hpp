// The roles a node runs, as data.
//
//   role           consumer reads                         handler
//   payment        order.created, payment.refund          payment service
//   inventory      order.created, inventory.release       inventory service
//   notification   order.status.changed                   notification service
//   analytics      order.created                          analytics service
//   orchestrator   payment.result, inventory.result,      saga router (+ fencing)
//                  order.cancel.requested
//   intake         intake.topic (orders.requested)         intake service
//
// Each consumer role is a name and a `wire` function that spawns the role's
// handler under a supervisor and routes the consumer's topics to it; the
// composition root (main.cpp) runs one loop over the table and gives each
// wiring to the consumer of the engine's mode (Kafka's, or the in-memory
// bus's). The `api` role is the HTTP server (main.cpp). The roles see the
// infrastructure only through `node_context`: the store port, the partition
// count, the fencing claims.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>

#include "actors/commands.hpp"
#include "apps/troupe-node/node_config.hpp"
#include "runtime/admission.hpp"
#include "runtime/consumer_core.hpp"
#include "runtime/event_routes.hpp"
#include "runtime/readiness.hpp"
#include "runtime/supervisor.hpp"

namespace troupe {

/// Partitions of the orchestrator's topics this node owns. Written on the
/// orchestrator consumer's thread (rebalances), read by the fence and the
/// saga router.
struct partition_ownership {
  std::mutex mtx;
  std::set<int32_t> owned;
  std::atomic<int32_t> partitions{0}; ///< 0: not known yet

  int32_t partition_of(const std::string& order_id) const;
  bool owns(const std::string& order_id);
};

/// How the orchestrator role fences saga writes: it claims the partitions it
/// is assigned (PostgreSQL's `partition_fence` and `partition_claimer`, or
/// the in-memory database's claims). The consumer calls `assigned` and
/// `released` on its own thread, inside its rebalance.
struct partition_claims {
  /// `parts` are assigned: saga writes for them wait for their claim.
  std::function<void(const std::vector<int32_t>&)> assigned;
  /// Claims what is assigned and not claimed yet (returns at once or after
  /// the claim); the sagas of claimed partitions are rehydrated then.
  std::function<void()> claim;
  std::function<void(const std::vector<int32_t>&)> released;
  /// Why saga writes cannot go through yet ("" when they can).
  std::function<std::string()> not_ready;
};

/// What a consumer role fills in, whichever client reads its topics.
struct consumer_wiring {
  event_routes routes; ///< topic -> handler
  /// Decodes each message; empty: the envelope codec (envelope/codec.hpp).
  consumer_core::decoder decode;
  /// Partition changes of the first routed topic (for ownership).
  std::function<void(const std::vector<int32_t>&)> on_assigned;
  std::function<void(const std::vector<int32_t>&)> on_revoked;
};

/// What the roles are wired with; lives as long as the node's actors.
struct node_context {
  node_context(caf::actor_system& sys, const node_config& cfg)
    : sys(sys), cfg(cfg) {
    // nop
  }

  caf::actor_system& sys;
  const node_config& cfg;
  retry_policy retry; ///< restarts back off like retries
  node_store_actor store;
  readiness_actor readiness;
  std::shared_ptr<partition_ownership> own;
  /// Partitions of a topic, 0 while not known (Kafka's metadata, the
  /// in-memory bus).
  std::function<int32_t(const std::string& topic)> partitions;
  /// Fencing of the orchestrator role; `rehydrate` runs (on any thread)
  /// once assigned partitions are claimed.
  std::function<partition_claims(std::function<void()> rehydrate)> fencing;
  /// Bounds the orders in flight (api and intake roles).
  std::shared_ptr<admission_gate> admission;
  /// Checks the readiness prober runs; roles add theirs.
  std::vector<readiness_check> checks;
  /// The supervised handlers, stopped after the consumers at shutdown.
  std::vector<caf::actor_addr> handlers;
  /// Helpers that must outlive the actors (the partition claimer).
  std::vector<std::shared_ptr<void>> keep;

  /// `start`'s actor under a supervisor reporting to readiness as `name`;
  /// returns the supervisor's handle typed as the actor's.
  template <class Start>
  auto supervise(std::string name, Start start) {
    supervisor_config sc;
    sc.backoff = retry;
    sc.on_health = report_health(readiness, name);
    auto handle = supervise_one(sys, std::move(name), std::move(sc), start);
    handlers.push_back(handle.address());
    return handle;
  }
};

struct consumer_role {
  const char* name;
  /// Spawns the role's handler and adds its routes (and callbacks) to `c`.
  std::function<void(node_context&, consumer_wiring& c)> wire;
};

/// Every consumer role, in start order.
const std::vector<consumer_role>& consumer_roles();

} // namespace troupe
