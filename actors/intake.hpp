// Intake: orders that an upstream system produces to a Kafka topic instead
// of posting them.
//
//   orders.requested ──consumer──▶ [intake] ──create_order──▶ store
//                                     ◀── created_order (after the commit)
//
// The consumer's decoder validates each message like a POST /orders body
// (envelope/order_request.hpp); a message that fails becomes a dead letter
// there. The intake service gives each valid order its id, correlation id
// and deadline, and asks the store to create it. The client's reference is
// unique in the store: the order's row, its `order.created` event and the
// reference commit in one transaction, so a redelivered message, or the
// same reference sent twice, finds the order created before (`duplicate`).
// The reply comes after the commit; the consumer commits the offset after
// it. The store group-commits concurrent creates, so a burst of messages is
// written in a few transactions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/commands.hpp"

namespace troupe {

using intake_actor
  = caf::typed_actor<caf::replies_to<order_requested>::with<write_outcome>>;

struct intake_config {
  int64_t deadline_ms = 30000;
  /// A new unique id (order ids, correlation ids).
  std::function<std::string()> new_id;
  /// Admission control: whether one more order may enter now. When not,
  /// the message fails with `overloaded`, which delivery waits out like an
  /// outage (the consumer stops fetching, nothing is dead-lettered) and
  /// retries. Empty: always.
  std::function<bool()> admit;
};

intake_actor::behavior_type intake_service(intake_actor::pointer self,
                                           order_intake_actor store,
                                           intake_config cfg);

} // namespace troupe
