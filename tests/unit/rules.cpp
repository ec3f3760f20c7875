// The business rules, the offset tracker and the backoff schedule: pure code.
#define CAF_SUITE rules
#include "actors/rules.hpp"

#include <caf/test/unit_test.hpp>

using namespace troupe;

CAF_TEST(payment is declined above 100000 cents) {
  CAF_CHECK_EQUAL(rules::payment_decision(0), "");
  CAF_CHECK_EQUAL(rules::payment_decision(100000), "");
  CAF_CHECK_EQUAL(rules::payment_decision(100001), reason::payment_declined);
}

CAF_TEST(inventory fails above 10 units or when stock is short) {
  CAF_CHECK_EQUAL(rules::inventory_precheck(10), "");
  CAF_CHECK_EQUAL(rules::inventory_precheck(11), reason::quantity_limit);
  CAF_CHECK_EQUAL(rules::inventory_decision(3, 3), "");
  CAF_CHECK_EQUAL(rules::inventory_decision(3, 2), reason::out_of_stock);
  CAF_CHECK_EQUAL(rules::inventory_decision(11, 1000), reason::quantity_limit);
}

CAF_TEST(the decision waits for both results) {
  CAF_CHECK_EQUAL(rules::decide(pay::approved, "").status, "");
  CAF_CHECK_EQUAL(rules::decide("", inv::reserved).status, "");
  auto ok = rules::decide(pay::approved, inv::reserved);
  CAF_CHECK_EQUAL(ok.status, status::confirmed);
  CAF_CHECK(!ok.release && !ok.refund);
}

CAF_TEST(cancellations compensate what succeeded) {
  auto a = rules::decide(pay::declined, inv::reserved);
  CAF_CHECK_EQUAL(a.reason, reason::payment_declined);
  CAF_CHECK(a.release && !a.refund);
  auto b = rules::decide(pay::approved, inv::quantity_limit);
  CAF_CHECK_EQUAL(b.reason, reason::quantity_limit);
  CAF_CHECK(!b.release && b.refund);
  auto c = rules::decide(pay::approved, inv::out_of_stock);
  CAF_CHECK_EQUAL(c.reason, reason::out_of_stock);
  auto d = rules::decide(pay::declined, inv::out_of_stock);
  CAF_CHECK_EQUAL(d.reason, reason::payment_declined);
  CAF_CHECK(!d.release && !d.refund);
}

CAF_TEST(expiry cancels with timeout and compensates what succeeded) {
  auto a = rules::expire("", "");
  CAF_CHECK_EQUAL(a.status, status::cancelled);
  CAF_CHECK_EQUAL(a.reason, reason::timeout);
  CAF_CHECK(!a.release && !a.refund);
  auto b = rules::expire(pay::approved, "");
  CAF_CHECK(b.refund && !b.release);
  auto c = rules::expire("", inv::reserved);
  CAF_CHECK(c.release && !c.refund);
}
