// The saga's vocabulary and its wire spellings, one table per enum.
#include "actors/vocabulary.hpp"

#include <array>

namespace troupe {

namespace {

constexpr std::array order_status_names{"NEW", "CONFIRMED", "CANCELLED"};
constexpr std::array cancel_reason_names{
  "",        "payment_declined",  "quantity_limit", "out_of_stock",
  "timeout", "customer_cancelled"};
constexpr std::array payment_state_names{"", "APPROVED", "DECLINED"};
constexpr std::array inventory_state_names{"", "RESERVED", "QUANTITY_LIMIT",
                                           "OUT_OF_STOCK"};
constexpr std::array timeline_kind_names{
  "created",
  "payment.approved",
  "payment.declined",
  "payment.refunded",
  "inventory.reserved",
  "inventory.quantity_limit",
  "inventory.out_of_stock",
  "inventory.released",
  "compensation.release",
  "compensation.refund",
  "deadline.expired",
  "status.CONFIRMED",
  "status.CANCELLED",
  "notification.sent",
  "retry",
  "dead_lettered",
  "cancel.requested",
  "inventory.short",
};
static_assert(cancel_reason_names.size()
              == static_cast<size_t>(last_cancel_reason) + 1);
static_assert(timeline_kind_names.size()
              == static_cast<size_t>(last_timeline_kind) + 1);

template <class E, size_t N>
const char* name_of(const std::array<const char*, N>& names, E x) {
  auto i = static_cast<size_t>(x);
  return i < N ? names[i] : "?";
}

template <class E, size_t N>
std::optional<E>
value_of(const std::array<const char*, N>& names, std::string_view text) {
  for (size_t i = 0; i < N; ++i)
    if (text == names[i])
      return static_cast<E>(i);
  return std::nullopt;
}

} // namespace

const char* to_string(order_status x) {
  return name_of(order_status_names, x);
}

const char* to_string(cancel_reason x) {
  return name_of(cancel_reason_names, x);
}

const char* to_string(payment_state x) {
  return name_of(payment_state_names, x);
}

const char* to_string(inventory_state x) {
  return name_of(inventory_state_names, x);
}

const char* to_string(timeline_kind x) {
  return name_of(timeline_kind_names, x);
}

std::optional<order_status> parse_order_status(std::string_view text) {
  return value_of<order_status>(order_status_names, text);
}

std::optional<cancel_reason> parse_cancel_reason(std::string_view text) {
  return value_of<cancel_reason>(cancel_reason_names, text);
}

std::optional<payment_state> parse_payment_state(std::string_view text) {
  return value_of<payment_state>(payment_state_names, text);
}

std::optional<inventory_state> parse_inventory_state(std::string_view text) {
  return value_of<inventory_state>(inventory_state_names, text);
}

std::optional<timeline_kind> parse_timeline_kind(std::string_view text) {
  return value_of<timeline_kind>(timeline_kind_names, text);
}

timeline_kind timeline_of(payment_state x) {
  return x == payment_state::approved ? timeline_kind::payment_approved
                                      : timeline_kind::payment_declined;
}

timeline_kind timeline_of(inventory_state x) {
  switch (x) {
    case inventory_state::reserved:
      return timeline_kind::inventory_reserved;
    case inventory_state::quantity_limit:
      return timeline_kind::inventory_quantity_limit;
    default:
      return timeline_kind::inventory_out_of_stock;
  }
}

timeline_kind timeline_of(order_status x) {
  return x == order_status::confirmed ? timeline_kind::status_confirmed
                                      : timeline_kind::status_cancelled;
}

inventory_state inventory_failure(cancel_reason x) {
  return x == cancel_reason::quantity_limit ? inventory_state::quantity_limit
                                            : inventory_state::out_of_stock;
}

} // namespace troupe
