// A supervisor keeps its children alive.
//
//   [supervisor] ──spawn/monitor──▶ [consumer payment] [consumer inventory] ... [outbox relay]
//        ▲ down (crash)                   │
//        └────────────────────────────────┘ restart after backoff
//
// A child that stops abnormally is started again after an exponential
// backoff with jitter (the retry policy); a child that keeps crashing backs
// off to the cap and is retried there for as long as it takes. While any
// child is down, the supervisor reports itself unhealthy (the node answers
// /ready with 503); a child that stays up for `stable_after` is healthy again
// and its backoff starts over.
//
// A child that stops normally (`exit_reason::normal`) has finished its work:
// it is not restarted, and it is reported as "<name> stopped" without making
// the supervisor unhealthy (nothing is waiting for it to come back). Requests
// forwarded to a finished child are answered with the final `not_found`
// error, so nobody retries into it forever. The work a crashed child held is redelivered:
// its Kafka offsets were not committed. On exit, the supervisor stops its
// children.
//
// A supervisor may also stand in front of one child (`forward_to`): others
// hold the supervisor's handle, which stays valid across restarts, and every
// message it does not handle itself goes on to the current incarnation of
// the child. While the child is down, requests are answered with the
// retryable `unavailable` error, so the sender's retries carry the work over
// the restart.
//
//   [consumer] ──event──▶ [supervisor "payment"] ──forward──▶ [payment service]
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/messages.hpp"
#include "runtime/backoff.hpp"

namespace troupe {

using restart_atom = caf::atom_constant<caf::atom("restart")>;
using stable_atom = caf::atom_constant<caf::atom("stable")>;
using health_atom = caf::atom_constant<caf::atom("health")>;

struct child_spec {
  std::string name;
  /// Starts the child; the supervisor monitors what it returns.
  std::function<caf::actor(caf::local_actor* supervisor)> start;
};

struct supervisor_config {
  retry_policy backoff;
  std::chrono::milliseconds stable_after{5000};
  /// Called on every change of health (true: every child is up and stable,
  /// or finished) or of its description (`why` names children that are
  /// down, restarting or stopped).
  std::function<void(bool healthy, const std::string& why)> on_health;
  /// Name of the child that receives everything else sent to the
  /// supervisor; empty: none.
  std::string forward_to;
  /// Source of jitter in [0, 1); tests make it deterministic.
  std::function<double()> unit;
};

struct supervised_child {
  child_spec spec;
  caf::actor handle;
  int32_t restarts = 0;    ///< consecutive crashes without a stable run
  uint64_t generation = 0; ///< bumps on every start
  bool up = false;
  bool finished = false; ///< stopped normally: not restarted
};

struct supervisor_state {
  static inline const char* name = "supervisor";
  supervisor_config cfg;
  std::map<std::string, supervised_child> children;
  bool healthy = true;
  std::string why; ///< last reported description of the children
  uint64_t restarts_total = 0;
  /// Children that ended and whose link's exit message may still be on its
  /// way (it is not a reason for the supervisor to stop).
  std::vector<caf::actor_addr> ended;
};

caf::behavior supervisor(caf::stateful_actor<supervisor_state>* self,
                         std::vector<child_spec> children,
                         supervisor_config cfg);

/// Spawns a supervisor in front of one child (`forward_to`) that `start`
/// spawns, and returns the supervisor's handle typed as the child's
/// interface: the supervisor forwards what it receives to the current
/// incarnation, so it answers what the child answers.
///
///   payment_actor payment = supervise_one(sys, "payment", cfg,
///     [store](caf::actor_system& s) { return s.spawn(payment_service, store); });
template <class Start>
auto supervise_one(caf::actor_system& sys, std::string name,
                   supervisor_config cfg, Start start) {
  using handle = decltype(start(sys));
  cfg.forward_to = name;
  child_spec spec{std::move(name), [start](caf::local_actor* parent) {
                    return caf::actor_cast<caf::actor>(start(parent->system()));
                  }};
  return caf::actor_cast<handle>(
    sys.spawn(supervisor, std::vector<child_spec>{std::move(spec)}, cfg));
}

} // namespace troupe
