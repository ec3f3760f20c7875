// Validation of POST /orders without HTTP: what is accepted comes out
// trimmed and well-formed, what is refused names its field.
#define CAF_SUITE order_request
#include "envelope/order_request.hpp"

#include <caf/test/unit_test.hpp>

#include "base/utf8.hpp"

using namespace troupe;

namespace {

const std::string valid_body = R"({"customer_email": "ann@example.com",
  "item_sku": "SKU-1", "quantity": 2, "amount_cents": 1999})";

std::variant<create_order, order_request_error> parse(const std::string& body,
                                                      order_headers h = {}) {
  return parse_order_request(body, h);
}

create_order accepted(const std::string& body, order_headers h = {}) {
  auto r = parse(body, h);
  if (auto e = std::get_if<order_request_error>(&r)) {
    CAF_FAIL("refused: " << e->details);
    return {};
  }
  return std::get<create_order>(r);
}

order_request_error refused(const std::string& body, order_headers h = {}) {
  auto r = parse(body, h);
  if (std::holds_alternative<create_order>(r)) {
    CAF_FAIL("accepted unexpectedly: " << body);
    return {};
  }
  auto e = std::get<order_request_error>(r);
  CAF_CHECK(utf8::valid(e.details));
  return e;
}

/// `valid_body` with the value of `field` replaced by raw JSON text.
std::string with(const std::string& field, const std::string& value) {
  auto body = valid_body;
  auto k = body.find("\"" + field + "\"");
  auto start = body.find(':', k) + 2;
  auto end = body.find_first_of(",}", start);
  body.replace(start, end - start, value);
  return body;
}

} // namespace

CAF_TEST(a valid order is accepted with its headers) {
  auto x = accepted(valid_body, {"key-1", "corr-1"});
  CAF_CHECK_EQUAL(x.customer_email, "ann@example.com");
  CAF_CHECK_EQUAL(x.sku, "SKU-1");
  CAF_CHECK_EQUAL(x.quantity, 2);
  CAF_CHECK_EQUAL(x.amount_cents, 1999);
  CAF_CHECK_EQUAL(x.idempotency_key, "key-1");
  CAF_CHECK_EQUAL(x.correlation_id, "corr-1");
  auto y = accepted(with("item_sku", "\"caf\xC3\xA9-\xF0\x9F\x93\xA6\""));
  CAF_CHECK_EQUAL(y.sku, "caf\xC3\xA9-\xF0\x9F\x93\xA6");
}

CAF_TEST(malformed JSON is refused as invalid_json) {
  auto e = refused("{\"customer_email\": ");
  CAF_CHECK_EQUAL(e.error, "invalid_json");
  CAF_CHECK_EQUAL(refused("").error, "invalid_json");
  // The parser would quote half of a two-byte character here.
  CAF_CHECK_EQUAL(refused("{\"quantity\": \xC3\xA9}").error, "invalid_json");
  CAF_CHECK_EQUAL(refused("[1]").details, "the body must be a JSON object");
}

CAF_TEST(invalid UTF - 8 inside a string names the field) {
  auto e = refused(with("customer_email", "\"ann\xFF@example.com\""));
  CAF_CHECK_EQUAL(e.error, "invalid_order");
  CAF_CHECK_EQUAL(e.field, "customer_email");
  CAF_CHECK(e.details.rfind("field 'customer_email' is not valid UTF-8", 0)
            == 0);
  for (auto bad :
       {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"}) {
    auto e2 = refused(with("item_sku", std::string{"\"A"} + bad + "B\""));
    CAF_CHECK_EQUAL(e2.field, "item_sku");
  }
  auto e3 = refused(with("quantity", "\"\xFF\""));
  CAF_CHECK_EQUAL(e3.field, "quantity");
  auto e4 = refused(R"({"customer_email": "a@b", "note": {"x": [")"
                    "\xFE\"]}}");
  CAF_CHECK_EQUAL(e4.field, "note");
  auto e5 = refused("{\"\xFF\": 1}");
  CAF_CHECK(e5.details.rfind("a field name is not valid UTF-8", 0) == 0);
  auto e6 = refused("\xEF\xBB\xBF\xFF{}");
  CAF_CHECK(e6.details.rfind("the body is not valid UTF-8 (byte 3 of 6)", 0)
            == 0);
}

CAF_TEST(headers must be printable ASCII) {
  auto e = refused(valid_body, {"k\xC3\xA9y", ""});
  CAF_CHECK_EQUAL(e.error, "invalid_header");
  CAF_CHECK_EQUAL(e.details,
                  "header 'Idempotency-Key' must be printable ASCII");
  auto f = refused(valid_body, {"", "corr\xFF"});
  CAF_CHECK_EQUAL(f.details,
                  "header 'X-Correlation-ID' must be printable ASCII");
  CAF_CHECK_EQUAL(refused(valid_body, {"", "a\tb"}).field, "X-Correlation-ID");
  auto g = refused(valid_body, {std::string(201, 'k'), ""});
  CAF_CHECK_EQUAL(g.details,
                  "header 'Idempotency-Key' must be at most 200 characters");
  accepted(valid_body, {std::string(200, 'k'), "~!@ #$%"});
}

CAF_TEST(string fields are trimmed and must not be blank) {
  auto x = accepted(with("item_sku", "\"  SKU-9 \xC2\xA0\""));
  CAF_CHECK_EQUAL(x.sku, "SKU-9");
  auto y = accepted(with("customer_email", "\" ann@example.com \""));
  CAF_CHECK_EQUAL(y.customer_email, "ann@example.com");
  for (auto blank :
       {"\"   \"", "\"\"", "\"\xE3\x80\x80\"", "\" \xEF\xBB\xBF \""}) {
    auto e = refused(with("item_sku", blank));
    CAF_CHECK_EQUAL(e.field, "item_sku");
    CAF_CHECK_EQUAL(e.details,
                    "field 'item_sku' must not be empty or only whitespace");
  }
}

CAF_TEST(control characters are refused) {
  CAF_CHECK_EQUAL(refused(with("item_sku", "\"A\\tB\"")).details,
                  "field 'item_sku' contains control characters");
  CAF_CHECK_EQUAL(refused(with("item_sku", "\"A\\u0000B\"")).field, "item_sku");
  CAF_CHECK_EQUAL(refused(with("item_sku", "\"A\\u0085B\"")).field, "item_sku");
  CAF_CHECK_EQUAL(refused(with("item_sku", "\"A\x7F"
                                           "B\""))
                    .field,
                  "item_sku");
}

CAF_TEST(lengths are counted in characters) {
  std::string euro = "\xE2\x82\xAC";
  std::string sku64, sku65;
  for (int i = 0; i < 64; ++i)
    sku64 += euro;
  sku65 = sku64 + "x";
  CAF_CHECK_EQUAL(accepted(with("item_sku", "\"" + sku64 + "\"")).sku, sku64);
  CAF_CHECK_EQUAL(refused(with("item_sku", "\"" + sku65 + "\"")).details,
                  "field 'item_sku' is longer than 64 characters");
  auto email = std::string(250, 'a') + "@b.c";
  CAF_CHECK_EQUAL(
    accepted(with("customer_email", "\"" + email + "\"")).customer_email.size(),
    254u);
  CAF_CHECK_EQUAL(refused(with("customer_email", "\"x" + email + "\"")).field,
                  "customer_email");
}

CAF_TEST(numbers must be integers in range) {
  CAF_CHECK_EQUAL(refused(with("quantity", "0")).details,
                  "field 'quantity' must be at least 1");
  CAF_CHECK_EQUAL(refused(with("quantity", "1000001")).details,
                  "field 'quantity' must be at most 1000000");
  CAF_CHECK_EQUAL(refused(with("quantity", "2.5")).details,
                  "field 'quantity' must be an integer");
  CAF_CHECK_EQUAL(refused(with("quantity", "\"2\"")).details,
                  "field 'quantity' must be an integer");
  CAF_CHECK_EQUAL(refused(with("quantity", "18446744073709551615")).details,
                  "field 'quantity' is too large");
  CAF_CHECK_EQUAL(refused(with("amount_cents", "-1")).details,
                  "field 'amount_cents' must not be negative");
  CAF_CHECK_EQUAL(refused(with("amount_cents", "9223372036854775808")).details,
                  "field 'amount_cents' is too large");
  CAF_CHECK_EQUAL(accepted(with("amount_cents", "0")).amount_cents, 0);
}

CAF_TEST(missing fields and bad emails are refused) {
  CAF_CHECK_EQUAL(refused("{}").details, "missing field 'customer_email'");
  CAF_CHECK_EQUAL(refused(with("item_sku", "null")).details,
                  "missing field 'item_sku'");
  CAF_CHECK_EQUAL(refused(with("customer_email", "\"ann\"")).field,
                  "customer_email");
  CAF_CHECK_EQUAL(refused(with("customer_email", "\"@example.com\"")).field,
                  "customer_email");
}

namespace {

/// An order in the `items` shape; `items` is raw JSON text.
std::string lines_body(const std::string& items) {
  return R"({"customer_email": "ann@example.com", "items": )" + items + "}";
}

} // namespace

CAF_TEST(an order with several lines sums them and summarizes the first) {
  auto x = accepted(lines_body(R"([
    {"sku": " SKU-1 ", "quantity": 2, "unit_price_cents": 14990},
    {"sku": "SKU-2", "quantity": 1, "unit_price_cents": 29900},
    {"sku": "SKU-3", "quantity": 3, "unit_price_cents": 0}])"));
  CAF_CHECK_EQUAL(x.lines, (order_lines{{"SKU-1", 2, 14990, 29980},
                                        {"SKU-2", 1, 29900, 29900},
                                        {"SKU-3", 3, 0, 0}}));
  CAF_CHECK_EQUAL(x.sku, "SKU-1");
  CAF_CHECK_EQUAL(x.quantity, 6);
  CAF_CHECK_EQUAL(x.amount_cents, 59880);
}

CAF_TEST(the single item shape is one line) {
  auto x = accepted(valid_body);
  CAF_CHECK_EQUAL(x.lines, (order_lines{{"SKU-1", 2, 999, 1999}}));
}

CAF_TEST(a bad line is refused naming the line and field) {
  auto field_of = [](const std::string& items) {
    return refused(lines_body(items)).field;
  };
  CAF_CHECK_EQUAL(field_of(R"([{"sku": "A", "quantity": 1,
    "unit_price_cents": 1}, {"sku": "B", "quantity": 1,
    "unit_price_cents": 1}, {"sku": "C", "quantity": 0,
    "unit_price_cents": 1}])"),
                  "items[2].quantity");
  auto e = refused(
    lines_body(R"([{"sku": "A", "quantity": 1, "unit_price_cents": 1}, 7])"));
  CAF_CHECK_EQUAL(e.field, "items[1]");
  CAF_CHECK_EQUAL(e.details, "field 'items[1]' must be an object");
  CAF_CHECK_EQUAL(
    refused(lines_body(R"([{"quantity": 1, "unit_price_cents": 1}])")).details,
    "missing field 'items[0].sku'");
  CAF_CHECK_EQUAL(field_of(R"([{"sku": "A", "quantity": 1,
    "unit_price_cents": -1}])"),
                  "items[0].unit_price_cents");
  CAF_CHECK_EQUAL(field_of(R"([{"sku": "A", "quantity": 1000000,
    "unit_price_cents": 9223372036854775807}])"),
                  "items[0].unit_price_cents");
  CAF_CHECK_EQUAL(field_of(R"([{"sku": "A", "quantity": 2.5,
    "unit_price_cents": 1}])"),
                  "items[0].quantity");
}

CAF_TEST(a repeated SKU is refused naming the line that repeats it) {
  auto e = refused(lines_body(R"([
    {"sku": "A", "quantity": 1, "unit_price_cents": 1},
    {"sku": "B", "quantity": 1, "unit_price_cents": 1},
    {"sku": " A", "quantity": 2, "unit_price_cents": 1}])"));
  CAF_CHECK_EQUAL(e.field, "items[2].sku");
  CAF_CHECK(e.details.find("repeats the SKU of items[0]") != std::string::npos);
}

CAF_TEST(an order holds 1 to 50 lines in one shape) {
  CAF_CHECK_EQUAL(refused(lines_body("[]")).field, "items");
  CAF_CHECK_EQUAL(refused(lines_body("{}")).details,
                  "field 'items' must be an array");
  auto n_lines = [](int n) {
    std::string items = "[";
    for (int i = 0; i < n; ++i)
      items += (i ? "," : "") + std::string{R"({"sku": "S)"} + std::to_string(i)
               + R"(", "quantity": 1, "unit_price_cents": 1})";
    return items + "]";
  };
  CAF_CHECK_EQUAL(refused(lines_body(n_lines(51))).details,
                  "field 'items' must hold 1 to 50 lines");
  CAF_CHECK_EQUAL(accepted(lines_body(n_lines(50))).lines.size(), 50u);
  auto both = R"({"customer_email": "a@b.c", "item_sku": "A", "items": [
    {"sku": "A", "quantity": 1, "unit_price_cents": 1}]})";
  CAF_CHECK_EQUAL(refused(both).field, "item_sku");
  auto wrong_total = R"({"customer_email": "a@b.c", "amount_cents": 3,
    "items": [{"sku": "A", "quantity": 2, "unit_price_cents": 1}]})";
  CAF_CHECK_EQUAL(refused(wrong_total).field, "amount_cents");
  auto right_total = R"({"customer_email": "a@b.c", "amount_cents": 2,
    "items": [{"sku": "A", "quantity": 2, "unit_price_cents": 1}]})";
  CAF_CHECK_EQUAL(accepted(right_total).amount_cents, 2);
}
