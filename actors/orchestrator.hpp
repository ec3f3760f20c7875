// The orchestrator: one actor per in-flight order.
//
// It collects the payment and inventory results (in any order), decides
// CONFIRMED or CANCELLED, compensates what succeeded when the order is
// cancelled, and cancels with `timeout` when the deadline passes first, or
// with `customer_cancelled` when the customer's cancel request comes first
// (results after either end are compensated alike). Every
// step is written through the store port; a result is acknowledged to its
// sender only after the write committed, so the Kafka offset that carried it
// is committed only then.
//
//   payment_result ───┐
//   inventory_result ─┼─▶ [orchestrator X] ──saga_write──▶ store
//   cancel_requested ─┤
//   deadline (timer) ─┘
//
// One step at a time, in arrival order: while a store request is out, the
// actor switches to a behaviour that leaves every message in the mailbox
// (`skip`) until the reply is in. Its life is a few behaviours:
//
//   loading ──snapshot──▶ open ──final write──▶ closing ──▶ (quit)
//                          │
//                          └──revoke / fenced──▶ handing off ──▶ (quit)
//
// "closing" still applies what was in the mailbox when the order became final
// (a late reservation is released, a late payment refunded); "handing off"
// gives everything back to its sender with `handed_off`. Both quit when the
// `done` note they sent themselves comes up, that is, once the mailbox as it
// was is drained.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <caf/actor_clock.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/messages.hpp"
#include "actors/saga_probe.hpp"
#include "actors/store.hpp"

namespace troupe {

using orchestrator_actor
  = caf::typed_actor<caf::replies_to<payment_result>::with<write_outcome>,
                     caf::replies_to<inventory_result>::with<write_outcome>,
                     caf::replies_to<cancel_requested>::with<write_outcome>,
                     caf::reacts_to<deadline_atom>, caf::reacts_to<revoke_atom>,
                     caf::reacts_to<done_atom>>; ///< to itself: mailbox drained

/// One unit of work: a result or a cancel request from Kafka, or the
/// deadline.
struct saga_step {
  enum kind_t { payment, inventory, cancel, deadline } kind = deadline;
  payment_result pay;
  inventory_result inv;
  cancel_requested cancel_req;
};

/// How long an orchestrator waits for the store before it treats the write
/// as in doubt (reload, then plan again), unless its router says otherwise.
constexpr std::chrono::milliseconds default_store_timeout{30000};

struct orchestrator_state {
  static inline const char* name = "orchestrator";
  std::string order_id;
  store_actor store;
  std::chrono::milliseconds store_timeout = default_store_timeout;
  saga_snapshot saga;
  bool reload = false; ///< memory may differ from the store: load first
  /// When the deadline passes, on the actor's clock.
  caf::actor_clock::time_point deadline_at;
  saga_probe probe;
};

using orchestrator_ptr
  = orchestrator_actor::stateful_pointer<orchestrator_state>;

/// Spawns with an optional preloaded snapshot (rehydration by the saga
/// router); without one, the orchestrator loads it from the store first.
/// Each store request waits at most `store_timeout`.
orchestrator_actor::behavior_type
orchestrator(orchestrator_ptr self, std::string order_id, store_actor store,
             std::optional<saga_snapshot> preloaded,
             std::chrono::milliseconds store_timeout);

/// The write a step needs against the current snapshot, or none when the
/// step changes nothing (duplicate result, deadline or cancel request after
/// the end).
std::optional<saga_write> plan_step(const saga_snapshot& saga,
                                    const saga_step& step);

/// Applies a committed write to the snapshot.
void apply_write(saga_snapshot& saga, const saga_write& w);

} // namespace troupe
