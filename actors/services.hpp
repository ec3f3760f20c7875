// The saga's step services: payment, inventory, notification and analytics.
//
// Each applies its rule to one event and writes the effect through the store
// port, which commits it together with its outgoing event and the
// processed_events row that makes redeliveries no-ops. The reply (after the
// commit) is what lets the consumer commit the event's offset.
#pragma once

#include <cstdint>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/messages.hpp"
#include "actors/store.hpp"

namespace troupe {

/// Payment: decides on `order.created`, refunds on `payment.refund`.
using payment_actor
  = caf::typed_actor<caf::replies_to<order_created>::with<write_outcome>,
                     caf::replies_to<compensation>::with<write_outcome>>;

/// Inventory: reserves on `order.created`, releases on `inventory.release`.
using inventory_actor = payment_actor;

/// Notification: tells the customer about `order.status.changed`.
using notification_actor
  = caf::typed_actor<caf::replies_to<status_changed>::with<write_outcome>>;

/// Analytics: folds `order.created` into per-SKU daily figures.
using analytics_actor
  = caf::typed_actor<caf::replies_to<order_created>::with<write_outcome>>;

payment_actor::behavior_type payment_service(payment_actor::pointer self,
                                             store_actor store);

inventory_actor::behavior_type inventory_service(inventory_actor::pointer self,
                                                 store_actor store,
                                                 int64_t default_stock);

notification_actor::behavior_type
notification_service(notification_actor::pointer self, store_actor store);

analytics_actor::behavior_type analytics_service(analytics_actor::pointer self,
                                                 store_actor store);

} // namespace troupe
