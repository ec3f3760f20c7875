// Decoding of Kafka event envelopes: every topic's events decode into their
// messages; anything else is malformed with a cause that names the problem
// and is itself valid UTF-8 (it travels in dead-letter headers and rows).
#define CAF_SUITE codec
#include "envelope/codec.hpp"

#include <caf/test/unit_test.hpp>

#include "actors/messages.hpp"
#include "base/errors.hpp"
#include "base/utf8.hpp"
#include "envelope/events.hpp"

using namespace troupe;
using json = nlohmann::json;

namespace {

const std::string oid = "6f1c2f0e-3a4b-4c5d-8e9f-0a1b2c3d4e5f";

struct decoded {
  caf::expected<caf::message> result;
  std::string correlation_id;
};

decoded decode(const std::string& topic, const std::string& payload,
               const std::string& key = oid) {
  decoded out{caf::message{}, {}};
  out.result = codec::decode(topic, key, payload, out.correlation_id);
  return out;
}

/// The cause of a failed decoding (CAF_FAIL when it did not fail).
std::string cause(const decoded& d) {
  if (d.result) {
    CAF_FAIL("decoding succeeded unexpectedly");
    return {};
  }
  CAF_CHECK_EQUAL(d.result.error().category(), troupe_category);
  CAF_CHECK_EQUAL(d.result.error().code(),
                  static_cast<uint8_t>(troupe_errc::malformed_event));
  auto text = describe(d.result.error());
  CAF_CHECK(utf8::valid(text));
  return text;
}

template <class T>
T as(const decoded& d) {
  if (!d.result) {
    CAF_FAIL("decoding failed: " << describe(d.result.error()));
    return {};
  }
  if (!d.result->match_elements<T>()) {
    CAF_FAIL("unexpected message type " << to_string(*d.result));
    return {};
  }
  return d.result->get_as<T>(0);
}

std::string order_created_text(const std::string& email = "ann@example.com") {
  return events::make(events::order_created, oid, "corr-1",
                      {{"customer_email", email},
                       {"item_sku", "SKU-1"},
                       {"quantity", 2},
                       {"amount_cents", 1999}})
    .text;
}

bool contains(const std::string& x, const std::string& what) {
  return x.find(what) != std::string::npos;
}

} // namespace

CAF_TEST(valid events of every consumed topic decode) {
  auto a
    = as<order_created>(decode(events::order_created, order_created_text()));
  CAF_CHECK_EQUAL(a.order_id, oid);
  CAF_CHECK_EQUAL(a.correlation_id, "corr-1");
  CAF_CHECK_EQUAL(a.customer_email, "ann@example.com");
  CAF_CHECK_EQUAL(a.sku, "SKU-1");
  CAF_CHECK_EQUAL(a.quantity, 2);
  CAF_CHECK_EQUAL(a.amount_cents, 1999);
  auto b = as<payment_result>(decode(
    events::payment_result, events::make(events::payment_result, oid, "c",
                                         {{"approved", false},
                                          {"amount_cents", 200000},
                                          {"reason", "payment_declined"}})
                              .text));
  CAF_CHECK(!b.approved);
  CAF_CHECK_EQUAL(b.reason, cancel_reason::payment_declined);
  auto c = as<inventory_result>(
    decode(events::inventory_result,
           events::make(events::inventory_result, oid, "c",
                        {{"reserved", true}, {"reason", nullptr}})
             .text));
  CAF_CHECK(c.reserved);
  CAF_CHECK_EQUAL(c.reason, cancel_reason::none);
  auto d = as<status_changed>(
    decode(events::status_changed,
           events::make(events::status_changed, oid, "c",
                        {{"status", "CANCELLED"},
                         {"reason", "timeout"},
                         {"customer_email", "caf\xC3\xA9@example.com"}})
             .text));
  CAF_CHECK_EQUAL(d.status, order_status::cancelled);
  CAF_CHECK_EQUAL(d.reason, cancel_reason::timeout);
  CAF_CHECK_EQUAL(d.customer_email, "caf\xC3\xA9@example.com");
  auto e = as<compensation>(
    decode(events::inventory_release,
           events::make(events::inventory_release, oid, "c",
                        {{"item_sku", "SKU-1"}, {"quantity", 3}})
             .text));
  CAF_CHECK_EQUAL(e.sku, "SKU-1");
  CAF_CHECK_EQUAL(e.quantity, 3);
  auto f = as<compensation>(
    decode(events::payment_refund, events::make(events::payment_refund, oid,
                                                "c", {{"amount_cents", 10}})
                                     .text));
  CAF_CHECK_EQUAL(f.order_id, oid);
}

CAF_TEST(a message without a key decodes) {
  as<order_created>(decode(events::order_created, order_created_text(), ""));
}

CAF_TEST(malformed JSON is malformed) {
  auto d = decode(events::order_created, "{\"event_id\": ");
  CAF_CHECK(contains(cause(d), "not JSON"));
  CAF_CHECK(contains(cause(decode(events::order_created, "")), "not JSON"));
}

CAF_TEST(a value that is not UTF - 8 is malformed and the cause says where) {
  auto d = decode(events::order_created, "\xFF\xFE junk 123");
  CAF_CHECK_EQUAL(cause(d),
                  "malformed_event: value is not valid UTF-8 (byte 0 of 11)");
}

CAF_TEST(invalid UTF - 8 inside a string of valid JSON is malformed) {
  // Built by hand: the encoder refuses to write such text.
  auto text = order_created_text("annXX@example.com");
  auto at = text.find("annXX") + 3;
  text.replace(at, 2, "\xC3\x28");
  auto d = decode(events::order_created, text);
  CAF_CHECK_EQUAL(cause(d), "malformed_event: value is not valid UTF-8 (byte "
                              + std::to_string(at) + " of "
                              + std::to_string(text.size()) + ")");
  // A surrogate and an overlong '/' in the correlation id.
  auto env = json::parse(order_created_text());
  auto raw = env.dump();
  auto pos = raw.find("corr-1");
  for (auto bad : {"\xED\xA0\x80", "\xC0\xAF", "\xF4\x90\x80\x80"}) {
    auto x = raw;
    x.replace(pos, 6, bad);
    CAF_CHECK(
      contains(cause(decode(events::order_created, x)),
               "value is not valid UTF-8 (byte " + std::to_string(pos)));
  }
}

CAF_TEST(a key that is not UTF - 8 is malformed) {
  auto d = decode(events::order_created, order_created_text(), "o\xFF\xFE");
  CAF_CHECK_EQUAL(cause(d),
                  "malformed_event: key is not valid UTF-8 (byte 1 of 3)");
}

CAF_TEST(causes of malformed JSON never quote broken or endless text) {
  // A literal that starts with a two-byte character: the parser's own
  // message would quote half of it.
  auto d = decode(events::order_created, "{\"a\": \xC3\xA9}");
  CAF_CHECK(contains(cause(d), "not JSON"));
  // A string of 1 MB that never ends: the cause stays short.
  auto huge = "{\"a\": \"" + std::string(1 << 20, 'x');
  CAF_CHECK_LESS(cause(decode(events::order_created, huge)).size(), 400u);
  auto type = "{\"type\": \"" + std::string(1 << 20, 't') + "\"}";
  CAF_CHECK_LESS(cause(decode(events::order_created, type)).size(), 400u);
}

CAF_TEST(envelopes with missing or mistyped fields are malformed) {
  auto env = json::parse(order_created_text());
  auto without = [&](const char* key) {
    auto x = env;
    x.erase(key);
    return x.dump();
  };
  CAF_CHECK(contains(cause(decode(events::order_created, without("event_id"))),
                     "missing field 'event_id'"));
  CAF_CHECK(contains(cause(decode(events::order_created, without("payload"))),
                     "missing field 'payload'"));
  auto x = env;
  x["payload"]["quantity"] = "two";
  CAF_CHECK(contains(cause(decode(events::order_created, x.dump())),
                     "field 'quantity' must be an integer"));
  // 2^32 + 1 must not wrap around to a quantity of 1.
  x = env;
  x["payload"]["quantity"] = 4294967297ll;
  CAF_CHECK(contains(cause(decode(events::order_created, x.dump())),
                     "field 'quantity' is out of range"));
  x = env;
  x["payload"]["amount_cents"] = 18446744073709551615ull;
  CAF_CHECK(contains(cause(decode(events::order_created, x.dump())),
                     "field 'amount_cents' is out of range"));
  x = env;
  x["order_id"] = "not-a-uuid";
  CAF_CHECK(contains(cause(decode(events::order_created, x.dump())),
                     "order_id is not a UUID"));
  CAF_CHECK(contains(cause(decode(events::order_created, "[1, 2]")),
                     "must be a JSON object"));
  // The correlation id is kept for the dead letter even so.
  auto d = decode(events::order_created, without("event_id"));
  CAF_CHECK_EQUAL(d.correlation_id, "corr-1");
}

CAF_TEST(an event on the wrong topic is malformed) {
  auto d = decode(events::payment_result, order_created_text());
  CAF_CHECK(contains(cause(d), "unknown event type 'order.created'"));
}

namespace {

/// `x` encoded and decoded again, with the event id the envelope got.
template <class T>
T round_trip(const char* topic, const events::envelope& ev, T x) {
  x.event_id = ev.event_id;
  auto back = as<T>(decode(topic, ev.text));
  CAF_CHECK_EQUAL(back, x);
  return back;
}

} // namespace

CAF_TEST(every event decodes to what was encoded) {
  order_created created{"",      oid, "corr-1", "caf\xC3\xA9@example.com",
                        "SKU-1", 3,   4200};
  created.lines = {single_line("SKU-1", 3, 4200)};
  round_trip(events::order_created, codec::encode(created), created);
  order_created several{"", oid, "corr-1", "ann@example.com", "SKU-1", 5, 2600};
  several.lines
    = {{"SKU-1", 2, 300, 600}, {"SKU-2", 3, 400, 1200}, {"SKU-3", 1, 800, 800}};
  several.quantity = 6;
  round_trip(events::order_created, codec::encode(several), several);
  for (auto why : {cancel_reason::none, cancel_reason::payment_declined}) {
    payment_result pay{"", oid, "corr-1", why == cancel_reason::none, why};
    round_trip(events::payment_result, codec::encode(pay, 4200), pay);
  }
  for (auto why : {cancel_reason::none, cancel_reason::quantity_limit,
                   cancel_reason::out_of_stock}) {
    inventory_result inv{"", oid, "corr-1", why == cancel_reason::none, why};
    round_trip(events::inventory_result,
               codec::encode(inv, several.lines, {"SKU-2"}), inv);
  }
  for (auto why : {cancel_reason::none, cancel_reason::payment_declined,
                   cancel_reason::quantity_limit, cancel_reason::out_of_stock,
                   cancel_reason::timeout, cancel_reason::customer_cancelled}) {
    auto st = why == cancel_reason::none ? order_status::confirmed
                                         : order_status::cancelled;
    status_changed changed{"", oid, "corr-1", st, why, "ann@example.com"};
    round_trip(events::status_changed, codec::encode(changed), changed);
  }
  compensation what{"", oid, "corr-1", "SKU-1", 3, {}};
  round_trip(events::inventory_release, codec::encode_release(what), what);
  compensation all{"", oid, "corr-1", "SKU-1", 6, several.lines};
  round_trip(events::inventory_release, codec::encode_release(all), all);
  // A refund names no SKU: only the order travels.
  auto refund = codec::encode_refund(what, 4200);
  auto back = as<compensation>(decode(events::payment_refund, refund.text));
  CAF_CHECK_EQUAL(back.order_id, oid);
  CAF_CHECK_EQUAL(back.event_id, refund.event_id);
  cancel_requested cancel{"", oid, "corr-1"};
  round_trip(events::cancel_requested, codec::encode(cancel), cancel);
}

CAF_TEST(an order created without items has one line; a bad line is malformed) {
  auto text = [](json payload) {
    return events::make(events::order_created, oid, "c", std::move(payload))
      .text;
  };
  json old{{"customer_email", "a@b.c"},
           {"item_sku", "SKU-1"},
           {"quantity", 2},
           {"amount_cents", 900}};
  auto x = as<order_created>(decode(events::order_created, text(old)));
  CAF_CHECK_EQUAL(x.lines, (order_lines{{"SKU-1", 2, 450, 900}}));
  auto bad = old;
  bad["items"]
    = json::array({{{"sku", "A"}, {"quantity", 1}, {"unit_price_cents", 5}},
                   {{"sku", "B"}, {"quantity", 0}, {"unit_price_cents", 5}}});
  CAF_CHECK(contains(cause(decode(events::order_created, text(bad))),
                     "items[1]: quantity or price out of range"));
  bad["items"] = json::array();
  CAF_CHECK(contains(cause(decode(events::order_created, text(bad))),
                     "'items' must be a non-empty array"));
  // An inventory result names the SKUs that were short.
  inventory_result inv{"", oid, "c", false, cancel_reason::out_of_stock};
  auto ev = json::parse(
    codec::encode(inv, {{"A", 1, 1, 1}, {"B", 2, 1, 2}}, {"B"}).text);
  CAF_CHECK_EQUAL(ev["payload"]["short_skus"], json::array({"B"}));
  CAF_CHECK_EQUAL(ev["payload"]["item_sku"], "A");
  CAF_CHECK_EQUAL(ev["payload"]["quantity"], 3);
}

CAF_TEST(a cancel request on another topic or without an order is malformed) {
  cancel_requested cancel{"", oid, "corr-1"};
  auto ev = codec::encode(cancel);
  CAF_CHECK(contains(cause(decode(events::payment_result, ev.text)),
                     "unknown event type 'order.cancel.requested'"));
  auto j = json::parse(ev.text);
  j["order_id"] = "not-an-order";
  CAF_CHECK(contains(cause(decode(events::cancel_requested, j.dump())),
                     "order_id is not a UUID"));
  j = json::parse(ev.text);
  j.erase("payload");
  CAF_CHECK(contains(cause(decode(events::cancel_requested, j.dump())),
                     "missing field 'payload'"));
}

CAF_TEST(a status or reason Troupe does not know is malformed) {
  auto text = [](json payload) {
    return events::make(events::status_changed, oid, "c", std::move(payload))
      .text;
  };
  CAF_CHECK(contains(
    cause(decode(events::status_changed, text({{"status", "SHIPPED"}}))),
    "field 'status' has unknown value 'SHIPPED'"));
  CAF_CHECK(contains(
    cause(decode(events::status_changed,
                 text({{"status", "CANCELLED"}, {"reason", "bored"}}))),
    "field 'reason' has unknown value 'bored'"));
  CAF_CHECK(contains(
    cause(decode(events::status_changed, text({{"reason", "timeout"}}))),
    "missing field 'status'"));
}
