// The saga router: one per node. Maps order ids to live orchestrators.
//
//   payment.result ─────────┐                      ┌─▶ [orchestrator o-1]
//   inventory.result ───────┼─▶ [saga router] ─────┼─▶ [orchestrator o-2]
//   order.cancel.requested ─┘   (spawn/route)      └─▶ ...
//   sweep timer ──────────────▶
//
// It spawns an orchestrator on the first event of an order, forgets it when
// it stops (final, or failed to load), and on every sweep rehydrates the open
// sagas whose deadline is near (all open sagas on the first sweep, which is
// how a restarted node finishes what its predecessor left open). When the
// node gains partitions it rehydrates again; when it loses partitions it stops
// their orchestrators, whose committed state the new owner reloads. Each
// sweep also passivates the orchestrators no event reached for
// `passivate_after`, the same way: an open saga waiting for a result holds
// no memory on the node, only its row in the store.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/messages.hpp"
#include "actors/orchestrator.hpp"
#include "actors/saga_probe.hpp"
#include "actors/store.hpp"

namespace troupe {

using saga_router_actor
  = caf::typed_actor<caf::replies_to<payment_result>::with<write_outcome>,
                     caf::replies_to<inventory_result>::with<write_outcome>,
                     caf::replies_to<cancel_requested>::with<write_outcome>,
                     caf::reacts_to<sweep_atom>, caf::reacts_to<rehydrate_atom>,
                     caf::reacts_to<revoke_atom, std::vector<int32_t>>,
                     caf::replies_to<live_atom>::with<uint64_t>>;

struct saga_router_config {
  /// Time between sweeps for sagas whose deadline is near.
  std::chrono::milliseconds sweep_interval{1000};
  /// Whether this node owns an order (all orders when empty).
  std::function<bool(const std::string&)> owns;
  /// The partition of an order (needed to hand off revoked partitions).
  std::function<int32_t(const std::string&)> partition_of;
  /// How long an orchestrator waits for one store request.
  std::chrono::milliseconds store_timeout = default_store_timeout;
  /// An orchestrator no event reached for this long is passivated on the
  /// next sweep: it stops, and its saga lives on in the store only. The
  /// next event of the order, or the sweep once its deadline is near,
  /// spawns it again from the committed state. 0: never.
  std::chrono::milliseconds passivate_after{0};
};

/// An orchestrator alive on this node.
struct live_saga {
  orchestrator_actor actor;
  caf::actor_clock::time_point last_event; ///< spawned, or last routed to
};

struct saga_router_state {
  static inline const char* name = "saga_router";
  store_actor store;
  saga_router_config cfg;
  std::unordered_map<std::string, live_saga> live;
  /// The live orchestrators by actor id (keys of `live`): an exit finds its
  /// saga without a scan.
  std::unordered_map<caf::actor_id, const std::string*> by_id;
  /// Orchestrators told to stop (handed off, passivated) that have not
  /// exited yet.
  std::unordered_set<caf::actor_id> leaving;
  bool first_sweep = true;
  bool sweeping = false;
  uint32_t sweep_failures = 0; ///< consecutive failed sweeps
  saga_probe probe;
};

using saga_router_ptr = saga_router_actor::stateful_pointer<saga_router_state>;

/// Sends itself the first sweep immediately when `auto_sweep` is true; tests
/// pass false and inject `sweep_atom` themselves.
saga_router_actor::behavior_type
saga_router(saga_router_ptr self, store_actor store, saga_router_config cfg,
            bool auto_sweep);

} // namespace troupe
