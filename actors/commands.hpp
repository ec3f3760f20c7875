// Commands that only the adapters send to the PostgreSQL store, on top of the
// domain's store port (actors/store.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/messages.hpp"
#include "actors/store.hpp"

namespace troupe {

/// Creates an order with its `order.created` outbox event.
struct create_order {
  std::string order_id;
  std::string correlation_id;
  /// The client's reference (`ref`): an HTTP Idempotency-Key, or the key of
  /// an intake message. Unique: a second order with it returns the first.
  std::string idempotency_key; ///< empty: none
  std::string customer_email;
  std::string sku;
  int32_t quantity = 0;
  int64_t amount_cents = 0; ///< the sum of the lines
  int64_t deadline_ms = 30000;
  order_lines lines; ///< 1 to 50, SKUs unique; `sku`/`quantity` summarize
  /// The W3C trace context of the span that creates it (the HTTP request,
  /// the intake step); `order.created` carries it. Empty: none.
  std::string traceparent;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, create_order& x) {
  return f(caf::meta::type_name("create_order"), x.order_id, x.correlation_id,
           x.idempotency_key, x.customer_email, x.sku, x.quantity,
           x.amount_cents, x.deadline_ms, x.lines, x.traceparent);
}

/// The lines to store: one line of `sku`, `quantity` and `amount_cents` for
/// a command that names no lines.
inline order_lines lines_of(const create_order& c) {
  if (!c.lines.empty())
    return c.lines;
  return {single_line(c.sku, c.quantity, c.amount_cents)};
}

/// The order as stored; `created` is false when an earlier request with the
/// same idempotency key created it.
struct created_order {
  std::string order_id;
  std::string correlation_id;
  std::string status;
  bool created = false;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, created_order& x) {
  return f(caf::meta::type_name("created_order"), x.order_id, x.correlation_id,
           x.status, x.created);
}

/// A customer's cancel request for an open order: recorded once, with its
/// `order.cancel.requested` outbox event and a timeline entry, in one
/// transaction. A repeated request, or one for a final order, changes
/// nothing.
struct cancel_order {
  std::string order_id;
  /// The W3C trace context of the request's span; the event carries it (the
  /// order's own when empty).
  std::string traceparent;
  friend bool operator==(const cancel_order& x, const cancel_order& y) {
    return x.order_id == y.order_id && x.traceparent == y.traceparent;
  }
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cancel_order& x) {
  return f(caf::meta::type_name("cancel_order"), x.order_id, x.traceparent);
}

/// What the store answers to `cancel_order`.
struct cancel_answer {
  std::string order_id;
  std::string correlation_id;
  order_status status = order_status::fresh;
  cancel_reason reason = cancel_reason::none;
  bool found = false;
  /// A cancel request is on record (this one or an earlier one); false when
  /// the order is unknown or already final.
  bool recorded = false;
  friend bool operator==(const cancel_answer& x, const cancel_answer& y) {
    return std::tie(x.order_id, x.correlation_id, x.status, x.reason, x.found,
                    x.recorded)
           == std::tie(y.order_id, y.correlation_id, y.status, y.reason,
                       y.found, y.recorded);
  }
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cancel_answer& x) {
  return f(caf::meta::type_name("cancel_answer"), x.order_id, x.correlation_id,
           x.status, x.reason, x.found, x.recorded);
}

/// An order a client produced to the intake topic (`orders.requested`),
/// validated like a POST /orders body; `order.idempotency_key` holds the
/// client's reference (the message key or its `idempotency_key` field).
struct order_requested {
  create_order order;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_requested& x) {
  return f(caf::meta::type_name("order_requested"), x.order);
}

/// Order intake: what the HTTP adapter and the intake role ask of the store.
using order_intake_actor
  = caf::typed_actor<caf::replies_to<create_order>::with<created_order>,
                     caf::replies_to<cancel_order>::with<cancel_answer>>;

/// Everything a store binding offers a node: the domain's port, the dead
/// letters and order intake. Narrower handles convert from it implicitly.
using node_store_actor
  = store_actor::extend_with<dead_letter_actor, order_intake_actor>;

} // namespace troupe
