// Messages exchanged by Troupe's domain actors and their ports.
//
// Every message is a plain struct with `inspect` and `operator==` so that the
// deterministic test suites can match on values. Nothing in here knows about
// JSON, SQL or Kafka: adapters translate between these and the wire.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

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

// -- status vocabulary --------------------------------------------------------

namespace status {
constexpr const char* fresh = "NEW";
constexpr const char* confirmed = "CONFIRMED";
constexpr const char* cancelled = "CANCELLED";
} // namespace status

namespace reason {
constexpr const char* payment_declined = "payment_declined";
constexpr const char* quantity_limit = "quantity_limit";
constexpr const char* out_of_stock = "out_of_stock";
constexpr const char* timeout = "timeout";
} // namespace reason

/// Payment status recorded on an order by its orchestrator.
namespace pay {
constexpr const char* approved = "APPROVED";
constexpr const char* declined = "DECLINED";
} // namespace pay

/// Inventory status recorded on an order by its orchestrator.
namespace inv {
constexpr const char* reserved = "RESERVED";
constexpr const char* quantity_limit = "QUANTITY_LIMIT";
constexpr const char* out_of_stock = "OUT_OF_STOCK";
} // namespace inv

#define TROUPE_EQ(type, ...)                                                   \
  friend bool operator==(const type& x, const type& y) {                       \
    auto fields = [](const type& v) { return std::tie(__VA_ARGS__); };         \
    return fields(x) == fields(y);                                             \
  }                                                                            \
  friend bool operator!=(const type& x, const type& y) {                       \
    return !(x == y);                                                          \
  }

// -- events (decoded from Kafka by the adapters) ------------------------------

/// `order.created`: a new order entered the system.
struct order_created {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  std::string customer_email;
  std::string sku;
  int32_t quantity = 0;
  int64_t amount_cents = 0;
  TROUPE_EQ(order_created, v.event_id, v.order_id, v.correlation_id,
            v.customer_email, v.sku, v.quantity, v.amount_cents)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_created& x) {
  return f(caf::meta::type_name("order_created"), x.event_id, x.order_id,
           x.correlation_id, x.customer_email, x.sku, x.quantity,
           x.amount_cents);
}

/// `payment.result`: the payment step's outcome for one order.
struct payment_result {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  bool approved = false;
  std::string reason; ///< empty when approved
  TROUPE_EQ(payment_result, v.event_id, v.order_id, v.correlation_id,
            v.approved, v.reason)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_result& x) {
  return f(caf::meta::type_name("payment_result"), x.event_id, x.order_id,
           x.correlation_id, x.approved, x.reason);
}

/// `inventory.result`: the inventory step's outcome for one order.
struct inventory_result {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  bool reserved = false;
  std::string reason; ///< empty when reserved
  TROUPE_EQ(inventory_result, v.event_id, v.order_id, v.correlation_id,
            v.reserved, v.reason)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, inventory_result& x) {
  return f(caf::meta::type_name("inventory_result"), x.event_id, x.order_id,
           x.correlation_id, x.reserved, x.reason);
}

/// `inventory.release` and `payment.refund`: a compensation request.
struct compensation {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  std::string sku;      ///< inventory.release only
  int32_t quantity = 0; ///< inventory.release only
  TROUPE_EQ(compensation, v.event_id, v.order_id, v.correlation_id, v.sku,
            v.quantity)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, compensation& x) {
  return f(caf::meta::type_name("compensation"), x.event_id, x.order_id,
           x.correlation_id, x.sku, x.quantity);
}

/// `order.status.changed`: an order reached its final status.
struct status_changed {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  std::string status;
  std::string reason;
  std::string customer_email;
  TROUPE_EQ(status_changed, v.event_id, v.order_id, v.correlation_id, v.status,
            v.reason, v.customer_email)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, status_changed& x) {
  return f(caf::meta::type_name("status_changed"), x.event_id, x.order_id,
           x.correlation_id, x.status, x.reason, x.customer_email);
}

// -- store commands (domain actors -> storage port) ---------------------------

/// Records the payment decision, its ledger row and the `payment.result` event.
struct payment_cmd {
  std::string event_id; ///< the order.created event being handled
  std::string order_id;
  std::string correlation_id;
  int64_t amount_cents = 0;
  bool approved = false;
  std::string reason;
  TROUPE_EQ(payment_cmd, v.event_id, v.order_id, v.correlation_id,
            v.amount_cents, v.approved, v.reason)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_cmd& x) {
  return f(caf::meta::type_name("payment_cmd"), x.event_id, x.order_id,
           x.correlation_id, x.amount_cents, x.approved, x.reason);
}

/// Reserves stock atomically (or records a rule failure) and emits
/// `inventory.result`. `reason` is set when the rule already failed; otherwise
/// the store decides between reserved and `out_of_stock` against live stock.
struct reserve_cmd {
  std::string event_id;
  std::string order_id;
  std::string correlation_id;
  std::string sku;
  int32_t quantity = 0;
  int64_t default_stock = 0;
  std::string reason; ///< non-empty: do not reserve, report this failure
  TROUPE_EQ(reserve_cmd, v.event_id, v.order_id, v.correlation_id, v.sku,
            v.quantity, v.default_stock, v.reason)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reserve_cmd& x) {
  return f(caf::meta::type_name("reserve_cmd"), x.event_id, x.order_id,
           x.correlation_id, x.sku, x.quantity, x.default_stock, x.reason);
}

/// Releases a reservation (at most once) or refunds a payment (at most once).
struct release_cmd {
  compensation what;
  TROUPE_EQ(release_cmd, v.what)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, release_cmd& x) {
  return f(caf::meta::type_name("release_cmd"), x.what);
}
struct refund_cmd {
  compensation what;
  TROUPE_EQ(refund_cmd, v.what)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, refund_cmd& x) {
  return f(caf::meta::type_name("refund_cmd"), x.what);
}

/// Records that a customer was notified of a final status.
struct notify_cmd {
  status_changed what;
  TROUPE_EQ(notify_cmd, v.what)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, notify_cmd& x) {
  return f(caf::meta::type_name("notify_cmd"), x.what);
}

/// Adds one order to the per-SKU daily figures.
struct analytics_cmd {
  order_created what;
  TROUPE_EQ(analytics_cmd, v.what)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, analytics_cmd& x) {
  return f(caf::meta::type_name("analytics_cmd"), x.what);
}

/// What the store knows about one saga.
struct saga_snapshot {
  std::string order_id;
  std::string correlation_id;
  std::string customer_email;
  std::string sku;
  int32_t quantity = 0;
  int64_t amount_cents = 0;
  std::string status = status::fresh;
  std::string reason;
  std::string payment_status;   ///< empty until the payment result arrived
  std::string inventory_status; ///< empty until the inventory result arrived
  int64_t deadline_in_ms = 0;   ///< time left until the deadline; <= 0: passed
  int64_t created_at_ms = 0;    ///< wall clock, ms since the epoch; 0: unknown
  bool found = false;
  TROUPE_EQ(saga_snapshot, v.order_id, v.correlation_id, v.customer_email,
            v.sku, v.quantity, v.amount_cents, v.status, v.reason,
            v.payment_status, v.inventory_status, v.deadline_in_ms,
            v.created_at_ms, v.found)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, saga_snapshot& x) {
  return f(caf::meta::type_name("saga_snapshot"), x.order_id, x.correlation_id,
           x.customer_email, x.sku, x.quantity, x.amount_cents, x.status,
           x.reason, x.payment_status, x.inventory_status, x.deadline_in_ms,
           x.created_at_ms, x.found);
}

/// Loads the snapshot of one saga.
struct load_saga {
  std::string order_id;
  TROUPE_EQ(load_saga, v.order_id)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, load_saga& x) {
  return f(caf::meta::type_name("load_saga"), x.order_id);
}

/// Lists open sagas whose deadline falls within `within_ms` (all when < 0).
struct list_open_sagas {
  int64_t within_ms = -1;
  int32_t limit = 1000;
  TROUPE_EQ(list_open_sagas, v.within_ms, v.limit)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_open_sagas& x) {
  return f(caf::meta::type_name("list_open_sagas"), x.within_ms, x.limit);
}

/// One step of a saga, written atomically by the store: the results seen, the
/// final status when decided, the timeline and the outgoing events
/// (`order.status.changed`, `inventory.release`, `payment.refund`).
struct saga_write {
  std::string event_id; ///< the result event applied; empty for a deadline
  std::string order_id;
  std::string correlation_id;
  std::string payment_status;   ///< new value, empty: unchanged
  std::string inventory_status; ///< new value, empty: unchanged
  std::string final_status;     ///< empty: not final yet
  std::string reason;
  bool release = false; ///< emit inventory.release
  bool refund = false;  ///< emit payment.refund
  std::vector<std::string> timeline;
  /// The state the plan assumed; the store applies the write only while the
  /// saga is still in it (otherwise: `stale`, and the orchestrator reloads).
  std::string expect_status = status::fresh;
  std::string expect_payment;   ///< payment status assumed, empty: none yet
  std::string expect_inventory; ///< inventory status assumed, empty: none yet
  TROUPE_EQ(saga_write, v.event_id, v.order_id, v.correlation_id,
            v.payment_status, v.inventory_status, v.final_status, v.reason,
            v.release, v.refund, v.timeline, v.expect_status, v.expect_payment,
            v.expect_inventory)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, saga_write& x) {
  return f(caf::meta::type_name("saga_write"), x.event_id, x.order_id,
           x.correlation_id, x.payment_status, x.inventory_status,
           x.final_status, x.reason, x.release, x.refund, x.timeline,
           x.expect_status, x.expect_payment, x.expect_inventory);
}

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
  TROUPE_EQ(dead_letter, v.topic, v.partition, v.offset, v.key, v.payload,
            v.error, v.attempts, v.first_failure, v.last_failure,
            v.correlation_id, v.consumer)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dead_letter& x) {
  return f(caf::meta::type_name("dead_letter"), x.topic, x.partition, x.offset,
           x.key, x.payload, x.error, x.attempts, x.first_failure,
           x.last_failure, x.correlation_id, x.consumer);
}

/// A failed attempt that will be retried, noted on the order's timeline
/// (best effort: `key` is the order id).
struct retry_note {
  std::string key;
  std::string consumer;
  std::string topic;
  int32_t attempt = 0;
  int64_t delay_ms = 0;
  std::string error;
  TROUPE_EQ(retry_note, v.key, v.consumer, v.topic, v.attempt, v.delay_ms,
            v.error)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retry_note& x) {
  return f(caf::meta::type_name("retry_note"), x.key, x.consumer, x.topic,
           x.attempt, x.delay_ms, x.error);
}

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

#undef TROUPE_EQ

} // namespace troupe
