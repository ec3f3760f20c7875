// The node's readiness (GET /ready), kept by one actor.
//
//   [supervisors] ──(health_atom, source, ok, why)──▶ [readiness] ──publish──▶ readiness_view
//   [prober] runs the checks every interval ────────────────▲                       ▲
//            (PostgreSQL, Kafka, fencing, ...)                          GET /ready reads it
//
// A required source (the node itself, each of the prober's checks) is not
// ready until it first reports; any other source (a supervisor) counts as
// ready until it says otherwise. The answer names the first required source
// that is not ready, in the order they were required; supervisors with
// children down come after them, as "restarting: <what> ...".
//
// The HTTP event thread reads the published view and never waits for the
// actor. The prober runs blocking checks (queries, broker metadata): spawn it
// detached; the readiness actor itself runs on the scheduler.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/messages.hpp"
#include "runtime/supervisor.hpp"

namespace troupe {

/// The latest answer of the readiness actor; thread-safe.
class readiness_view {
public:
  /// Whether the node is ready; `why` says why not.
  bool ready(std::string& why) const;

  void publish(bool ready, std::string why);

private:
  mutable std::mutex mtx_;
  bool ready_ = false;
  std::string why_ = "starting";
};

using require_atom = caf::atom_constant<caf::atom("require")>;

/// `(health_atom, source, healthy, why)`: one source's state.
/// `(require_atom, source)`: the node is not ready until `source` reports.
using readiness_actor = caf::typed_actor<
  caf::reacts_to<health_atom, std::string, bool, std::string>,
  caf::reacts_to<require_atom, std::string>>;

struct readiness_state {
  static inline const char* name = "readiness";
  std::vector<std::string> sources;             ///< required, in order
  std::map<std::string, std::string> not_ready; ///< source -> why
  std::shared_ptr<readiness_view> view;
};

/// Starts with one required source, `node`: the composition root reports
/// it healthy once the node is wired, and unhealthy when it shuts down.
readiness_actor::behavior_type
readiness(readiness_actor::stateful_pointer<readiness_state> self,
          std::shared_ptr<readiness_view> view);

/// One check of the prober: `why_not` answers why `source` is not ready,
/// or "" when it is.
struct readiness_check {
  std::string source;
  std::function<std::string()> why_not;
};

/// Runs `checks` in order, now and every `interval`, and reports each result
/// to `target`.
caf::behavior readiness_prober(caf::event_based_actor* self,
                               readiness_actor target,
                               std::vector<readiness_check> checks,
                               std::chrono::milliseconds interval);

/// A supervisor's `on_health` that reports to `target` as `source`.
std::function<void(bool, const std::string&)>
report_health(readiness_actor target, std::string source);

} // namespace troupe
