// The saga's Kafka topics, each with the event type its messages carry.
//
// A topic's name and its event type are declared together here, once: the
// envelope codec decodes a topic's messages into its event type, and a
// consumer routes a topic only to a handler whose interface answers that
// event type (runtime/event_routes.hpp), so a miswired handler does not
// compile.
#pragma once

#include "actors/messages.hpp"

namespace troupe {

/// A Kafka topic whose messages decode to `Event`.
template <class Event>
struct topic {
  using event_type = Event;
  const char* name;
};

namespace topics {

constexpr topic<order_created> order_created{"order.created"};
constexpr topic<payment_result> payment_result{"payment.result"};
constexpr topic<inventory_result> inventory_result{"inventory.result"};
constexpr topic<status_changed> status_changed{"order.status.changed"};
constexpr topic<compensation> inventory_release{"inventory.release"};
constexpr topic<compensation> payment_refund{"payment.refund"};
constexpr topic<cancel_requested> cancel_requested{"order.cancel.requested"};

/// The topics above, by name.
constexpr const char* engine_names[]
  = {order_created.name,   payment_result.name,    inventory_result.name,
     status_changed.name,  inventory_release.name, payment_refund.name,
     cancel_requested.name};

/// Where the intake role reads orders from unless `intake.topic` says
/// otherwise (its messages decode to `order_requested`, actors/commands.hpp).
constexpr const char* intake_default = "orders.requested";

} // namespace topics

} // namespace troupe
