// Orders from the intake topic: the decoder validates each message like a
// POST /orders body and takes the reference from its key (or field); the
// intake service creates one order per reference.
#define CAF_SUITE intake
#include "actors/intake.hpp"

#include <caf/test/dsl.hpp>

#include "envelope/intake.hpp"
#include "tests/unit/fixture.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

const std::string body = R"({"customer_email": "ann@example.com",
  "item_sku": "SKU-1", "quantity": 2, "amount_cents": 1999})";

/// The order a message decodes to; fails the test when it is refused.
create_order decoded(const std::string& key, const std::string& payload) {
  auto msg = codec::decode_order_request(key, payload);
  if (!msg) {
    CAF_FAIL("refused: " << to_string(msg.error()));
    return {};
  }
  if (!msg->match_elements<order_requested>()) {
    CAF_FAIL("not an order_requested");
    return {};
  }
  return msg->get_as<order_requested>(0).order;
}

/// Why a message is refused; fails the test when it is accepted.
std::string refused(const std::string& key, const std::string& payload) {
  auto msg = codec::decode_order_request(key, payload);
  if (msg) {
    CAF_FAIL("accepted unexpectedly: " << payload);
    return {};
  }
  CAF_CHECK_EQUAL(msg.error().code(),
                  static_cast<uint8_t>(troupe_errc::malformed_event));
  return to_string(msg.error());
}

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

order_requested requested(const std::string& ref, const std::string& email) {
  create_order c;
  c.idempotency_key = ref;
  c.customer_email = email;
  c.sku = "SKU-1";
  c.quantity = 1;
  c.amount_cents = 500;
  return order_requested{c};
}

struct fixture : store_fixture<test_coordinator_fixture<>> {
  intake_actor intake;
  int ids = 0;
  fixture() {
    intake_config cfg;
    cfg.deadline_ms = 30000;
    cfg.new_id = [this] {
      return "00000000-0000-4000-8000-" + std::to_string(100000000000 + ++ids);
    };
    intake = sys.spawn(intake_service, sim::spawn_memory_store(sys, db), cfg);
  }

  /// The ids of the stored orders with reference `ref`.
  std::vector<std::string> orders_with(const std::string& ref) {
    std::vector<std::string> xs;
    for (auto& [id, o] : db->orders)
      if (o.idempotency_key == ref)
        xs.push_back(id);
    return xs;
  }
};

} // namespace

CAF_TEST(the message key is the order reference) {
  auto c = decoded("client-ref-1", body);
  CAF_CHECK_EQUAL(c.idempotency_key, "client-ref-1");
  CAF_CHECK_EQUAL(c.customer_email, "ann@example.com");
  CAF_CHECK_EQUAL(c.sku, "SKU-1");
  CAF_CHECK_EQUAL(c.quantity, 2);
  CAF_CHECK_EQUAL(c.amount_cents, 1999);
}

CAF_TEST(without a key the idempotency_key field is the reference) {
  auto with_field = R"({"customer_email": "ann@example.com",
    "item_sku": "SKU-1", "quantity": 2, "amount_cents": 1999,
    "idempotency_key": "field-ref"})";
  CAF_CHECK_EQUAL(decoded("", with_field).idempotency_key, "field-ref");
  CAF_CHECK_EQUAL(decoded("key-ref", with_field).idempotency_key, "key-ref");
}

CAF_TEST(a message without a reference is refused) {
  CAF_CHECK(mentions(refused("", body), "missing_ref"));
  auto empty_field = R"({"customer_email": "ann@example.com",
    "item_sku": "SKU-1", "quantity": 2, "amount_cents": 1999,
    "idempotency_key": ""})";
  CAF_CHECK(mentions(refused("", empty_field), "missing_ref"));
}

CAF_TEST(a reference that is not printable ASCII is refused) {
  CAF_CHECK(mentions(refused("caf\xC3\xA9", body), "invalid_ref"));
  CAF_CHECK(mentions(refused("bad\xFF", body), "invalid_ref"));
  CAF_CHECK(mentions(refused(std::string(201, 'k'), body), "invalid_ref"));
}

CAF_TEST(invalid orders are refused naming the problem) {
  CAF_CHECK(mentions(refused("k", "{not json"), "invalid_json"));
  auto missing = R"({"customer_email": "ann@example.com", "item_sku": "S",
    "amount_cents": 10})";
  auto why = refused("k", missing);
  CAF_CHECK(mentions(why, "invalid_order (quantity)"));
  CAF_CHECK(mentions(why, "missing field 'quantity'"));
  CAF_CHECK(mentions(refused("k", "{\"customer_email\": \"\xFF\"}"),
                     "not valid UTF-8"));
  CAF_CHECK(mentions(refused("k", "[1, 2]"), "JSON object"));
}

CAF_TEST_FIXTURE_SCOPE(intake_tests, fixture)

CAF_TEST(an intake message creates its order with its event) {
  CAF_CHECK_EQUAL(ask(intake, requested("ref-1", "a@example.com")),
                  write_outcome::applied);
  auto ids = orders_with("ref-1");
  CAF_REQUIRE_EQUAL(ids.size(), 1u);
  auto& o = db->orders.at(ids[0]);
  CAF_CHECK_EQUAL(o.customer_email, "a@example.com");
  CAF_CHECK(!o.correlation_id.empty());
  CAF_CHECK_EQUAL(o.deadline_at_ms - o.created_at_ms, 30000);
  CAF_CHECK_EQUAL(db->count_events("order.created", ids[0]), 1u);
}

CAF_TEST(a reference sent twice creates one order) {
  CAF_CHECK_EQUAL(ask(intake, requested("ref-2", "a@example.com")),
                  write_outcome::applied);
  // Redelivered, or produced again by the client: a new order id each time,
  // the same reference.
  CAF_CHECK_EQUAL(ask(intake, requested("ref-2", "a@example.com")),
                  write_outcome::duplicate);
  CAF_CHECK_EQUAL(ask(intake, requested("ref-2", "other@example.com")),
                  write_outcome::duplicate);
  auto ids = orders_with("ref-2");
  CAF_REQUIRE_EQUAL(ids.size(), 1u);
  CAF_CHECK_EQUAL(db->count_events("order.created", ids[0]), 1u);
  CAF_CHECK_EQUAL(db->orders.at(ids[0]).customer_email, "a@example.com");
}

CAF_TEST(a store failure reaches delivery as an error) {
  db->faults.fail_next = 1;
  auto r = ask(intake, requested("ref-3", "a@example.com"));
  CAF_CHECK(!r);
  CAF_CHECK(orders_with("ref-3").empty());
  CAF_CHECK_EQUAL(ask(intake, requested("ref-3", "a@example.com")),
                  write_outcome::applied);
}

CAF_TEST_FIXTURE_SCOPE_END()
