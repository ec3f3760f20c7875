// The business rules of the order saga, as pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "actors/messages.hpp"

namespace troupe::rules {

/// Orders above this amount are declined by the payment step.
constexpr int64_t max_amount_cents = 100000;

/// Orders above this quantity fail the inventory step.
constexpr int32_t max_quantity = 10;

/// Payment: declined when `amount_cents > 100000`. Returns the reason, or
/// none when approved.
cancel_reason payment_decision(int64_t amount_cents);

/// Inventory, the part that needs no stock: `quantity > 10` fails.
cancel_reason inventory_precheck(int32_t quantity);

/// Inventory for an order's lines: any line's `quantity > 10` fails.
cancel_reason inventory_precheck(const order_lines& lines);

/// The SKUs whose stock cannot cover their line, in the lines' order;
/// `available(sku)` is the SKU's live stock. Empty: every line can be
/// reserved.
template <class Available>
std::vector<std::string>
short_skus(const order_lines& lines, Available available) {
  std::vector<std::string> result;
  for (auto& line : lines)
    if (available(line.sku) < line.quantity)
      result.push_back(line.sku);
  return result;
}

/// Inventory against live stock: reserved when `available >= quantity`.
cancel_reason inventory_decision(int32_t quantity, int64_t available);

/// The decision of a saga given both results (either may still be none).
struct outcome {
  order_status status = order_status::fresh; ///< fresh while undecided
  cancel_reason reason = cancel_reason::none;
  bool release = false; ///< compensate the reservation
  bool refund = false;  ///< compensate the payment
};

/// Decides once both results are known; undecided otherwise. When both
/// failed, the payment's reason wins so the outcome does not depend on
/// arrival order.
outcome decide(payment_state payment, inventory_state inventory);

/// The saga ends before both results are in: cancel with `why` and
/// compensate what succeeded.
outcome withdraw(payment_state payment, inventory_state inventory,
                 cancel_reason why);

/// The deadline passed: cancel with `timeout` and compensate what succeeded.
outcome expire(payment_state payment, inventory_state inventory);

} // namespace troupe::rules
