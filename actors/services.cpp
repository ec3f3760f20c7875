// The step services. They are stateless: all state lives behind the store.
#include "actors/services.hpp"

#include <chrono>

#include <caf/event_based_actor.hpp>

#include "actors/rules.hpp"
#include "observability/log.hpp"

namespace troupe {

namespace {

constexpr auto store_timeout = std::chrono::seconds(30);

template <class Self, class Cmd>
caf::result<write_outcome>
forward(Self* self, const store_actor& store, Cmd cmd) {
  auto rp = self->template make_response_promise<write_outcome>();
  self->request(store, store_timeout, std::move(cmd))
    .then([rp](write_outcome x) mutable { rp.deliver(x); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

} // namespace

payment_actor::behavior_type payment_service(payment_actor::pointer self,
                                             store_actor store) {
  return {
    [=](order_created& x) -> caf::result<write_outcome> {
      payment_cmd cmd;
      cmd.event_id = std::move(x.event_id);
      cmd.order_id = std::move(x.order_id);
      cmd.correlation_id = std::move(x.correlation_id);
      cmd.traceparent = std::move(x.traceparent);
      cmd.amount_cents = x.amount_cents;
      cmd.reason = rules::payment_decision(x.amount_cents);
      cmd.approved = cmd.reason == cancel_reason::none;
      return forward(self, store, std::move(cmd));
    },
    [=](compensation& x) -> caf::result<write_outcome> {
      return forward(self, store, refund_cmd{std::move(x)});
    },
  };
}

inventory_actor::behavior_type inventory_service(inventory_actor::pointer self,
                                                 store_actor store,
                                                 int64_t default_stock) {
  return {
    [=](order_created& x) -> caf::result<write_outcome> {
      reserve_cmd cmd;
      cmd.event_id = std::move(x.event_id);
      cmd.order_id = std::move(x.order_id);
      cmd.correlation_id = std::move(x.correlation_id);
      cmd.traceparent = std::move(x.traceparent);
      x.lines = lines_of(x);
      cmd.sku = std::move(x.sku);
      cmd.quantity = x.quantity;
      cmd.default_stock = default_stock;
      cmd.reason = rules::inventory_precheck(x.lines);
      cmd.lines = std::move(x.lines);
      return forward(self, store, std::move(cmd));
    },
    [=](compensation& x) -> caf::result<write_outcome> {
      return forward(self, store, release_cmd{std::move(x)});
    },
  };
}

notification_actor::behavior_type
notification_service(notification_actor::pointer self, store_actor store) {
  return {
    [=](status_changed& x) -> caf::result<write_outcome> {
      log::debug_traced("notification", x.order_id, x.correlation_id,
                        x.traceparent, "notify {}: order {} {}",
                        x.customer_email, to_string(x.status),
                        to_string(x.reason));
      return forward(self, store, notify_cmd{std::move(x)});
    },
  };
}

analytics_actor::behavior_type analytics_service(analytics_actor::pointer self,
                                                 store_actor store) {
  return {
    [=](order_created& x) -> caf::result<write_outcome> {
      return forward(self, store, analytics_cmd{std::move(x)});
    },
  };
}

} // namespace troupe
