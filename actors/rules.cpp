// The business rules of the order saga.
#include "actors/rules.hpp"

#include "base/mutants.hpp"

namespace troupe::rules {

cancel_reason payment_decision(int64_t amount_cents) {
  return amount_cents > max_amount_cents ? cancel_reason::payment_declined
                                         : cancel_reason::none;
}

cancel_reason inventory_precheck(int32_t quantity) {
  return quantity > max_quantity ? cancel_reason::quantity_limit
                                 : cancel_reason::none;
}

cancel_reason inventory_precheck(const order_lines& lines) {
  for (auto& line : lines)
    if (auto r = inventory_precheck(line.quantity); r != cancel_reason::none)
      return r;
  return cancel_reason::none;
}

cancel_reason inventory_decision(int32_t quantity, int64_t available) {
  if (auto r = inventory_precheck(quantity); r != cancel_reason::none)
    return r;
  return available >= quantity ? cancel_reason::none
                               : cancel_reason::out_of_stock;
}

outcome decide(payment_state payment, inventory_state inventory) {
  outcome result;
  if (payment == payment_state::none || inventory == inventory_state::none)
    return result;
  bool paid = payment == payment_state::approved;
  bool reserved = inventory == inventory_state::reserved;
  if (paid && (reserved || TROUPE_MUTANT("confirm-without-inventory"))) {
    result.status = order_status::confirmed;
    return result;
  }
  result.status = order_status::cancelled;
  if (!paid)
    result.reason = cancel_reason::payment_declined;
  else if (inventory == inventory_state::quantity_limit)
    result.reason = cancel_reason::quantity_limit;
  else
    result.reason = cancel_reason::out_of_stock;
  result.refund = paid;
  result.release = reserved;
  return result;
}

outcome withdraw(payment_state payment, inventory_state inventory,
                 cancel_reason why) {
  outcome result;
  result.status = order_status::cancelled;
  result.reason = why;
  result.refund = payment == payment_state::approved;
  result.release = inventory == inventory_state::reserved;
  return result;
}

outcome expire(payment_state payment, inventory_state inventory) {
  return withdraw(payment, inventory, cancel_reason::timeout);
}

} // namespace troupe::rules
