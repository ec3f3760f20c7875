// The business rules, the offset tracker and the backoff schedule: pure code.
#define CAF_SUITE rules
#include "actors/rules.hpp"

#include <caf/test/unit_test.hpp>

using namespace troupe;

CAF_TEST(payment is declined above 100000 cents) {
  CAF_CHECK_EQUAL(rules::payment_decision(0), cancel_reason::none);
  CAF_CHECK_EQUAL(rules::payment_decision(100000), cancel_reason::none);
  CAF_CHECK_EQUAL(rules::payment_decision(100001),
                  cancel_reason::payment_declined);
}

CAF_TEST(inventory fails above 10 units or when stock is short) {
  CAF_CHECK_EQUAL(rules::inventory_precheck(10), cancel_reason::none);
  CAF_CHECK_EQUAL(rules::inventory_precheck(11), cancel_reason::quantity_limit);
  CAF_CHECK_EQUAL(rules::inventory_decision(3, 3), cancel_reason::none);
  CAF_CHECK_EQUAL(rules::inventory_decision(3, 2), cancel_reason::out_of_stock);
  CAF_CHECK_EQUAL(rules::inventory_decision(11, 1000),
                  cancel_reason::quantity_limit);
}

CAF_TEST(the decision waits for both results) {
  CAF_CHECK_EQUAL(
    rules::decide(payment_state::approved, inventory_state::none).status,
    order_status::fresh);
  CAF_CHECK_EQUAL(
    rules::decide(payment_state::none, inventory_state::reserved).status,
    order_status::fresh);
  auto ok = rules::decide(payment_state::approved, inventory_state::reserved);
  CAF_CHECK_EQUAL(ok.status, order_status::confirmed);
  CAF_CHECK(!ok.release && !ok.refund);
}

CAF_TEST(cancellations compensate what succeeded) {
  auto a = rules::decide(payment_state::declined, inventory_state::reserved);
  CAF_CHECK_EQUAL(a.reason, cancel_reason::payment_declined);
  CAF_CHECK(a.release && !a.refund);
  auto b = rules::decide(payment_state::approved,
                         inventory_state::quantity_limit);
  CAF_CHECK_EQUAL(b.reason, cancel_reason::quantity_limit);
  CAF_CHECK(!b.release && b.refund);
  auto c = rules::decide(payment_state::approved,
                         inventory_state::out_of_stock);
  CAF_CHECK_EQUAL(c.reason, cancel_reason::out_of_stock);
  auto d = rules::decide(payment_state::declined,
                         inventory_state::out_of_stock);
  CAF_CHECK_EQUAL(d.reason, cancel_reason::payment_declined);
  CAF_CHECK(!d.release && !d.refund);
}

CAF_TEST(expiry cancels with timeout and compensates what succeeded) {
  auto a = rules::expire(payment_state::none, inventory_state::none);
  CAF_CHECK_EQUAL(a.status, order_status::cancelled);
  CAF_CHECK_EQUAL(a.reason, cancel_reason::timeout);
  CAF_CHECK(!a.release && !a.refund);
  auto b = rules::expire(payment_state::approved, inventory_state::none);
  CAF_CHECK(b.refund && !b.release);
  auto c = rules::expire(payment_state::none, inventory_state::reserved);
  CAF_CHECK(c.release && !c.refund);
}

CAF_TEST(any line over 10 units fails an order with several lines) {
  order_lines ok{{"A", 10, 1, 10}, {"B", 1, 1, 1}};
  CAF_CHECK_EQUAL(rules::inventory_precheck(ok), cancel_reason::none);
  order_lines over{{"A", 1, 1, 1}, {"B", 11, 1, 11}, {"C", 2, 1, 2}};
  CAF_CHECK_EQUAL(rules::inventory_precheck(over),
                  cancel_reason::quantity_limit);
}

CAF_TEST(the SKUs short of stock are named in the lines order) {
  std::map<std::string, int64_t> stock{{"A", 5}, {"B", 1}, {"C", 0}};
  auto available = [&](const std::string& sku) { return stock[sku]; };
  order_lines lines{{"C", 1, 1, 1}, {"A", 5, 1, 5}, {"B", 2, 1, 2}};
  CAF_CHECK_EQUAL(rules::short_skus(lines, available),
                  (std::vector<std::string>{"C", "B"}));
  order_lines fits{{"A", 5, 1, 5}, {"B", 1, 1, 1}};
  CAF_CHECK(rules::short_skus(fits, available).empty());
}
