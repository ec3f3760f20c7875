// The saga's vocabulary: an order's status and reason, the payment and
// inventory results recorded on it, and the kinds of its timeline entries.
//
// The domain works with these enums only. Their spellings on the wire (JSON,
// SQL rows, Kafka payloads) are the `to_string` of each value, and adapters
// turn wire text back with `parse_*`, which refuses unknown text. The web UI
// names the timeline kinds too (ui/app.js, KNOWN_KINDS); the unit suite
// `vocabulary` checks that it knows every kind listed here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace troupe {

/// Where an order stands: open (`NEW` on the wire) or final.
enum class order_status : uint8_t { fresh, confirmed, cancelled };

/// Why an order was cancelled; `none` while open or when confirmed.
enum class cancel_reason : uint8_t {
  none,
  payment_declined,
  quantity_limit,
  out_of_stock,
  timeout,
  customer_cancelled, ///< the customer asked (POST /orders/{id}/cancel)
};

/// The payment result recorded on an order; `none` until it arrived.
enum class payment_state : uint8_t { none, approved, declined };

/// The inventory result recorded on an order; `none` until it arrived.
enum class inventory_state : uint8_t {
  none,
  reserved,
  quantity_limit,
  out_of_stock,
};

/// The kinds of entries on an order's timeline.
enum class timeline_kind : uint8_t {
  created,
  payment_approved,
  payment_declined,
  payment_refunded,
  inventory_reserved,
  inventory_quantity_limit,
  inventory_out_of_stock,
  inventory_released,
  compensation_release,
  compensation_refund,
  deadline_expired,
  status_confirmed,
  status_cancelled,
  notification_sent,
  retry,
  dead_lettered,
  cancel_requested,
  inventory_short, ///< out of stock: which SKUs were short
};

/// `NEW`, `CONFIRMED`, `CANCELLED`.
const char* to_string(order_status x);
/// `""` for none, else `payment_declined`, `quantity_limit`, ...
const char* to_string(cancel_reason x);
/// `""` for none, else `APPROVED`, `DECLINED`.
const char* to_string(payment_state x);
/// `""` for none, else `RESERVED`, `QUANTITY_LIMIT`, `OUT_OF_STOCK`.
const char* to_string(inventory_state x);
/// `created`, `payment.approved`, `status.CONFIRMED`, ...
const char* to_string(timeline_kind x);

std::optional<order_status> parse_order_status(std::string_view text);
/// The empty text is `none`.
std::optional<cancel_reason> parse_cancel_reason(std::string_view text);
/// The empty text is `none`.
std::optional<payment_state> parse_payment_state(std::string_view text);
/// The empty text is `none`.
std::optional<inventory_state> parse_inventory_state(std::string_view text);
std::optional<timeline_kind> parse_timeline_kind(std::string_view text);

/// The last reason, for the tables and checks that walk all of them.
constexpr auto last_cancel_reason = cancel_reason::customer_cancelled;

/// The last timeline kind, for the checks that walk all of them.
constexpr auto last_timeline_kind = timeline_kind::inventory_short;

/// The timeline entry that records a payment or inventory result.
timeline_kind timeline_of(payment_state x);
timeline_kind timeline_of(inventory_state x);
timeline_kind timeline_of(order_status x);

/// The inventory result a failure reason stands for.
inventory_state inventory_failure(cancel_reason x);

} // namespace troupe
