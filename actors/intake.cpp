// The intake service (see intake.hpp).
#include "actors/intake.hpp"

#include <chrono>

#include "actors/saga_probe.hpp"
#include "base/errors.hpp"
#include "observability/log.hpp"
#include "observability/tracing.hpp"

namespace troupe {

namespace {

constexpr auto store_timeout = std::chrono::seconds(30);

} // namespace

intake_actor::behavior_type intake_service(intake_actor::pointer self,
                                           order_intake_actor store,
                                           intake_config cfg) {
  return {
    [=](order_requested& x) -> caf::result<write_outcome> {
      if (cfg.admit && !cfg.admit()) {
        saga_probe{}.shed(saga_probe::source::intake);
        return make_error(troupe_errc::overloaded,
                          "saga.max-in-flight orders are in flight");
      }
      auto cmd = std::move(x.order);
      cmd.order_id = cfg.new_id();
      if (cmd.correlation_id.empty())
        cmd.correlation_id = cfg.new_id();
      cmd.deadline_ms = cfg.deadline_ms;
      // A message without trace context starts the order's trace here
      // (while spans are exported; the consumer step continued any other).
      if (cmd.traceparent.empty() && tracing::enabled())
        cmd.traceparent = tracing::start();
      auto rp = self->make_response_promise<write_outcome>();
      auto ref = cmd.idempotency_key;
      auto trace = cmd.traceparent;
      self->request(store, store_timeout, std::move(cmd))
        .then(
          [rp, ref, trace](const created_order& o) mutable {
            if (o.created) {
              saga_probe{}.created();
              log::debug_traced("intake", o.order_id, o.correlation_id, trace,
                                "order {} accepted", ref);
            }
            rp.deliver(o.created ? write_outcome::applied
                                 : write_outcome::duplicate);
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
  };
}

} // namespace troupe
