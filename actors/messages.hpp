// Messages exchanged by Troupe's domain actors and their ports.
//
// Every message is a plain struct with `inspect` and `operator==` so that the
// deterministic test suites can match on values. Nothing in here knows about
// JSON, SQL or Kafka: adapters translate between these and the wire.
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/vocabulary.hpp"

namespace troupe {

// -- atoms --------------------------------------------------------------------

using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using rehydrate_atom = caf::atom_constant<caf::atom("rehydrate")>;
using live_atom = caf::atom_constant<caf::atom("live")>;
using poll_atom = caf::atom_constant<caf::atom("poll")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using revoke_atom = caf::atom_constant<caf::atom("revoke")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

/// Lists a message's fields once: equality (the deterministic suites match
/// on values) and CAF's `inspect` (printing, serialization) follow from it.
#define TROUPE_FIELDS(type, ...)                                               \
  auto tie_fields() {                                                          \
    return std::tie(__VA_ARGS__);                                              \
  }                                                                            \
  auto tie_fields() const {                                                    \
    return std::tie(__VA_ARGS__);                                              \
  }                                                                            \
  friend bool operator==(const type& x, const type& y) {                       \
    return x.tie_fields() == y.tie_fields();                                   \
  }                                                                            \
  friend bool operator!=(const type& x, const type& y) {                       \
    return !(x == y);                                                          \
  }                                                                            \
  template <class Inspector>                                                   \
  friend typename Inspector::result_type inspect(Inspector& f, type& x) {      \
    return std::apply(                                                         \
      [&f](auto&... xs) { return f(caf::meta::type_name(#type), xs...); },     \
      x.tie_fields());                                                         \
  }

// -- events (decoded from Kafka by the adapters) ------------------------------

/// One line of an order: a SKU, how many, at what price. SKUs are unique
/// within an order.
struct order_line {
  std::string sku;
  int32_t quantity = 0;
  int64_t unit_price_cents = 0;
  int64_t amount_cents = 0; ///< the line's total
  TROUPE_FIELDS(order_line, sku, quantity, unit_price_cents, amount_cents)
};

using order_lines = std::vector<order_line>;

/// The one line of a single-item order: its amount is the line's total (the
/// unit price rounded down when the amount does not divide evenly).
inline order_line single_line(std::string sku, int32_t quantity,
                              int64_t amount_cents) {
  auto unit = quantity > 0 ? amount_cents / quantity : amount_cents;
  return order_line{std::move(sku), quantity, unit, amount_cents};
}

/// How many units the lines hold in all.
inline int32_t total_quantity(const order_lines& xs) {
  int64_t n = 0;
  for (auto& x : xs)
    n += x.quantity;
  return n > INT32_MAX ? INT32_MAX : static_cast<int32_t>(n);
}

/// What the lines cost in all.
inline int64_t total_amount(const order_lines& xs) {
  int64_t n = 0;
  for (auto& x : xs)
    n += x.amount_cents;
  return n;
}

/// `order.created`: a new order entered the system. `sku` and `quantity`
/// summarize the lines (the first line's SKU, the total quantity) for
/// readers that know single-item orders only.
struct order_created {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  std::string customer_email;
  std::string sku;
  int32_t quantity = 0;
  int64_t amount_cents = 0;
  order_lines lines;
  /// W3C trace context of the step that emitted or handles it; empty: none
  std::string traceparent;
  TROUPE_FIELDS(order_created, event_id, order_id, correlation_id,
                customer_email, sku, quantity, amount_cents, lines, traceparent)
};

/// The lines of an order: one line of `sku`, `quantity` and `amount_cents`
/// for an event that names no lines.
inline order_lines lines_of(const order_created& x) {
  if (!x.lines.empty())
    return x.lines;
  return {single_line(x.sku, x.quantity, x.amount_cents)};
}

/// `payment.result`: the payment step's outcome for one order.
struct payment_result {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  bool approved = false;
  cancel_reason reason = cancel_reason::none; ///< none when approved
  /// W3C trace context of the step that emitted or handles it; empty: none
  std::string traceparent;
  TROUPE_FIELDS(payment_result, event_id, order_id, correlation_id, approved,
                reason, traceparent)
};

/// `inventory.result`: the inventory step's outcome for one order.
struct inventory_result {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  bool reserved = false;
  cancel_reason reason = cancel_reason::none; ///< none when reserved
  /// W3C trace context of the step that emitted or handles it; empty: none
  std::string traceparent;
  TROUPE_FIELDS(inventory_result, event_id, order_id, correlation_id, reserved,
                reason, traceparent)
};

/// `inventory.release` and `payment.refund`: a compensation request.
struct compensation {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  std::string sku;      ///< inventory.release only: the first line's SKU
  int32_t quantity = 0; ///< inventory.release only: the total quantity
  order_lines lines;    ///< inventory.release only: every line
  /// W3C trace context of the step that emitted or handles it; empty: none
  std::string traceparent;
  TROUPE_FIELDS(compensation, event_id, order_id, correlation_id, sku, quantity,
                lines, traceparent)
};

/// `order.status.changed`: an order reached its final status.
struct status_changed {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  order_status status = order_status::fresh;
  cancel_reason reason = cancel_reason::none;
  std::string customer_email;
  /// W3C trace context of the step that emitted or handles it; empty: none
  std::string traceparent;
  TROUPE_FIELDS(status_changed, event_id, order_id, correlation_id, status,
                reason, customer_email, traceparent)
};

/// `order.cancel.requested`: the customer asked to cancel an open order
/// (recorded by the store together with this event).
struct cancel_requested {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  /// W3C trace context of the step that emitted or handles it; empty: none
  std::string traceparent;
  TROUPE_FIELDS(cancel_requested, event_id, order_id, correlation_id,
                traceparent)
};

// -- store commands (domain actors -> storage port) ---------------------------

/// Records the payment decision, its ledger row and the `payment.result` event.
struct payment_cmd {
  std::string event_id; ///< the order.created event being handled
  std::string order_id;
  std::string correlation_id;
  int64_t amount_cents = 0;
  bool approved = false;
  cancel_reason reason = cancel_reason::none;
  /// W3C trace context of the step that emitted or handles it; empty: none
  std::string traceparent;
  TROUPE_FIELDS(payment_cmd, event_id, order_id, correlation_id, amount_cents,
                approved, reason, traceparent)
};

/// Reserves stock atomically (or records a rule failure) and emits
/// `inventory.result`. `reason` is set when the rule already failed; otherwise
/// the store decides between reserved and `out_of_stock` against live stock:
/// every line is reserved, or none (the result names the SKUs that were
/// short). `sku` and `quantity` summarize the lines as in `order_created`.
struct reserve_cmd {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  std::string sku;
  int32_t quantity = 0;
  int64_t default_stock = 0;
  /// Not none: do not reserve, report this failure.
  cancel_reason reason = cancel_reason::none;
  order_lines lines;
  /// W3C trace context of the step that emitted or handles it; empty: none
  std::string traceparent;
  TROUPE_FIELDS(reserve_cmd, event_id, order_id, correlation_id, sku, quantity,
                default_stock, reason, lines, traceparent)
};

/// The lines to reserve: one line of `sku` and `quantity` for a command
/// that names no lines.
inline order_lines lines_of(const reserve_cmd& c) {
  if (!c.lines.empty())
    return c.lines;
  return {single_line(c.sku, c.quantity, 0)};
}

/// Releases a reservation (at most once) or refunds a payment (at most once).
struct release_cmd {
  compensation what;
  TROUPE_FIELDS(release_cmd, what)
};
struct refund_cmd {
  compensation what;
  TROUPE_FIELDS(refund_cmd, what)
};

/// Records that a customer was notified of a final status.
struct notify_cmd {
  status_changed what;
  TROUPE_FIELDS(notify_cmd, what)
};

/// Adds one order to the per-SKU daily figures.
struct analytics_cmd {
  order_created what;
  TROUPE_FIELDS(analytics_cmd, what)
};

/// What the store knows about one saga.
struct saga_snapshot {
  std::string order_id;
  std::string correlation_id;
  std::string customer_email;
  std::string sku;
  int32_t quantity = 0;
  int64_t amount_cents = 0;
  order_status status = order_status::fresh;
  cancel_reason reason = cancel_reason::none;
  payment_state payment_status = payment_state::none;
  inventory_state inventory_status = inventory_state::none;
  int64_t deadline_in_ms = 0; ///< time left until the deadline; <= 0: passed
  int64_t created_at_ms = 0;  ///< wall clock, ms since the epoch; 0: unknown
  bool found = false;
  /// W3C trace context of the step that emitted or handles it; empty: none
  std::string traceparent;
  TROUPE_FIELDS(saga_snapshot, order_id, correlation_id, customer_email, sku,
                quantity, amount_cents, status, reason, payment_status,
                inventory_status, deadline_in_ms, created_at_ms, found,
                traceparent)
};

/// Loads the snapshot of one saga.
struct load_saga {
  std::string order_id;
  TROUPE_FIELDS(load_saga, order_id)
};

/// Lists open sagas whose deadline falls within `within_ms` (all when < 0).
struct list_open_sagas {
  int64_t within_ms = -1;
  int32_t limit = 1000;
  TROUPE_FIELDS(list_open_sagas, within_ms, limit)
};

/// One step of a saga, written atomically by the store: the results seen, the
/// final status when decided, the timeline and the outgoing events
/// (`order.status.changed`, `inventory.release`, `payment.refund`).
struct saga_write {
  std::string event_id; ///< the event applied (a result, a cancel request);
                        ///< empty for a deadline
  std::string order_id;
  std::string correlation_id;
  payment_state payment_status = payment_state::none;       ///< none: unchanged
  inventory_state inventory_status = inventory_state::none; ///< none: unchanged
  order_status final_status = order_status::fresh; ///< fresh: not final yet
  cancel_reason reason = cancel_reason::none;
  bool release = false; ///< emit inventory.release
  bool refund = false;  ///< emit payment.refund
  std::vector<timeline_kind> timeline;
  /// The state the plan assumed; the store applies the write only while the
  /// saga is still in it (otherwise: `stale`, and the orchestrator reloads).
  order_status expect_status = order_status::fresh;
  payment_state expect_payment = payment_state::none;
  inventory_state expect_inventory = inventory_state::none;
  /// W3C trace context of the step that emitted or handles it; empty: none
  std::string traceparent;
  TROUPE_FIELDS(saga_write, event_id, order_id, correlation_id, payment_status,
                inventory_status, final_status, reason, release, refund,
                timeline, expect_status, expect_payment, expect_inventory,
                traceparent)
};

/// A message that could not be processed: recorded in `dead_letters` and
/// published to `<topic>.dlq` through the outbox.
struct dead_letter {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string payload;
  std::string error;
  int32_t attempts = 0;
  std::string first_failure; ///< ISO-8601
  std::string last_failure;  ///< ISO-8601
  std::string correlation_id;
  std::string consumer;
  TROUPE_FIELDS(dead_letter, topic, partition, offset, key, payload, error,
                attempts, first_failure, last_failure, correlation_id, consumer)
};

/// A failed attempt that will be retried, noted on the order's timeline
/// (best effort: `key` is the order id).
struct retry_note {
  std::string key;
  std::string consumer;
  std::string topic;
  int32_t attempt = 0;
  int64_t delay_ms = 0;
  std::string error;
  TROUPE_FIELDS(retry_note, key, consumer, topic, attempt, delay_ms, error)
};

/// How the store applied a write.
enum class write_outcome : uint8_t {
  applied,   ///< committed
  duplicate, ///< the event was processed before: nothing changed
  stale,     ///< the saga is no longer in the state the write assumed
             ///< (final, or a result was committed meanwhile): nothing changed
  fenced,    ///< this node no longer owns the order's partition: refused
};

inline std::string to_string(write_outcome x) {
  switch (x) {
    case write_outcome::applied:
      return "applied";
    case write_outcome::duplicate:
      return "duplicate";
    case write_outcome::fenced:
      return "fenced";
    default:
      return "stale";
  }
}

#undef TROUPE_FIELDS

} // namespace troupe
