// The business rules of the order saga.
#include "actors/rules.hpp"

namespace troupe::rules {

std::string payment_decision(int64_t amount_cents) {
  return amount_cents > max_amount_cents ? reason::payment_declined : "";
}

std::string inventory_precheck(int32_t quantity) {
  return quantity > max_quantity ? reason::quantity_limit : "";
}

std::string inventory_decision(int32_t quantity, int64_t available) {
  if (auto r = inventory_precheck(quantity); !r.empty())
    return r;
  return available >= quantity ? "" : reason::out_of_stock;
}

outcome decide(const std::string& payment_status,
               const std::string& inventory_status) {
  outcome result;
  if (payment_status.empty() || inventory_status.empty())
    return result;
  bool paid = payment_status == pay::approved;
  bool reserved = inventory_status == inv::reserved;
  if (paid && reserved) {
    result.status = status::confirmed;
    return result;
  }
  result.status = status::cancelled;
  if (!paid)
    result.reason = reason::payment_declined;
  else if (inventory_status == inv::quantity_limit)
    result.reason = reason::quantity_limit;
  else
    result.reason = reason::out_of_stock;
  result.refund = paid;
  result.release = reserved;
  return result;
}

outcome expire(const std::string& payment_status,
               const std::string& inventory_status) {
  outcome result;
  result.status = status::cancelled;
  result.reason = reason::timeout;
  result.refund = payment_status == pay::approved;
  result.release = inventory_status == inv::reserved;
  return result;
}

} // namespace troupe::rules
