// Fuzz target: the POST /orders validator (envelope/order_request.hpp).
//
// Input: "<Idempotency-Key>\n<X-Correlation-ID>\n<body>".
//
// Invariants, beyond "no crash": the validator never throws; a body that is
// not valid UTF-8 is refused; every refusal has a known error code and
// details that are valid UTF-8; an accepted order has trimmed, non-empty,
// valid UTF-8 fields without control characters within their limits, an
// email with a name and a domain, 1 to 50 lines with unique SKUs (each
// checked like the single item's), 1 <= quantity <= 1000000 per line,
// prices >= 0, the summary (first SKU, total quantity, total amount) agrees
// with the lines, printable ASCII headers; and the accepted order, written
// back as JSON (in the single-item shape for one line, else as items), is
// accepted again unchanged.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/utf8.hpp"
#include "envelope/order_request.hpp"

using namespace troupe;

namespace {

[[noreturn]] void violated(const char* what, std::string_view input) {
  std::fprintf(stderr, "invariant violated: %s\ninput: %s\n", what,
               utf8::excerpt(input, 400).c_str());
  std::abort();
}

#define REQUIRE(cond, what)                                                    \
  do {                                                                         \
    if (!(cond))                                                               \
      violated(what, input);                                                   \
  } while (false)

bool printable_ascii(const std::string& x) {
  for (unsigned char c : x)
    if (c < 0x20 || c > 0x7E)
      return false;
  return true;
}

bool no_controls(const std::string& x) {
  for (size_t i = 0; i < x.size(); ++i) {
    auto c = static_cast<unsigned char>(x[i]);
    if (c < 0x20 || c == 0x7F)
      return false;
    if (c == 0xC2 && i + 1 < x.size()
        && static_cast<unsigned char>(x[i + 1]) < 0xA0)
      return false;
  }
  return true;
}

bool trimmed(const std::string& x) {
  return !x.empty() && x.front() != ' ' && x.back() != ' ';
}

using result = std::variant<create_order, order_request_error>;

result parse(std::string_view body, const order_headers& h,
             std::string_view input) {
  try {
    return parse_order_request(body, h);
  } catch (...) {
    violated("parse_order_request threw", input);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  order_headers h;
  std::string_view body;
  auto nl1 = input.find('\n');
  h.idempotency_key = std::string{input.substr(0, nl1)};
  if (nl1 != std::string_view::npos) {
    auto rest = input.substr(nl1 + 1);
    auto nl2 = rest.find('\n');
    h.correlation_id = std::string{rest.substr(0, nl2)};
    if (nl2 != std::string_view::npos)
      body = rest.substr(nl2 + 1);
  }
  auto r = parse(body, h, input);
  if (auto e = std::get_if<order_request_error>(&r)) {
    REQUIRE(e->error == "invalid_json" || e->error == "invalid_order"
              || e->error == "invalid_header",
            "unknown error code");
    REQUIRE(!e->details.empty() && utf8::valid(e->details)
              && utf8::valid(e->field),
            "error details empty or not valid UTF-8");
    return 0;
  }
  REQUIRE(utf8::valid(body), "accepted a body that is not valid UTF-8");
  auto& x = std::get<create_order>(r);
  REQUIRE(!x.lines.empty() && x.lines.size() <= order_limits::max_lines,
          "not 1 to 50 lines");
  REQUIRE(x.sku == x.lines.front().sku, "sku is not the first line's");
  std::set<std::string> skus;
  int64_t total_qty = 0, total_amount = 0;
  for (auto& line : x.lines) {
    REQUIRE(skus.insert(line.sku).second, "a SKU repeats");
    REQUIRE(line.quantity >= 1 && line.quantity <= order_limits::max_quantity,
            "a line's quantity out of range");
    REQUIRE(line.unit_price_cents >= 0 && line.amount_cents >= 0,
            "a negative price");
    total_qty += line.quantity;
    total_amount += line.amount_cents;
  }
  REQUIRE(total_qty == x.quantity, "quantity is not the lines' total");
  REQUIRE(total_amount == x.amount_cents, "amount is not the lines' sum");
  for (auto* s : {&x.customer_email, &x.sku}) {
    REQUIRE(utf8::valid(*s), "a field is not valid UTF-8");
    REQUIRE(no_controls(*s), "a field has control characters");
    REQUIRE(trimmed(*s), "a field is empty or not trimmed");
  }
  for (auto& line : x.lines) {
    REQUIRE(utf8::valid(line.sku) && no_controls(line.sku) && trimmed(line.sku),
            "a line's SKU is not valid, trimmed UTF-8");
    REQUIRE(utf8::length(line.sku) <= order_limits::sku_chars, "sku too long");
  }
  REQUIRE(utf8::length(x.customer_email) <= order_limits::email_chars,
          "email too long");
  auto at = x.customer_email.find('@');
  REQUIRE(at != std::string::npos && at > 0 && at + 1 < x.customer_email.size(),
          "email without name@domain");

  REQUIRE(printable_ascii(x.idempotency_key)
            && printable_ascii(x.correlation_id)
            && x.idempotency_key.size() <= order_limits::header_chars
            && x.correlation_id.size() <= order_limits::header_chars,
          "a header is not printable ASCII within its limit");
  REQUIRE(x.idempotency_key == h.idempotency_key
            && x.correlation_id == h.correlation_id,
          "headers changed");
  // What was accepted is accepted again, unchanged (and can be written as
  // JSON at all: dump throws on invalid UTF-8).
  std::string again;
  try {
    nlohmann::json doc{{"customer_email", x.customer_email}};
    if (x.lines.size() == 1) {
      doc["item_sku"] = x.sku;
      doc["quantity"] = x.quantity;
      doc["amount_cents"] = x.amount_cents;
    } else {
      for (auto& line : x.lines)
        doc["items"].push_back({{"sku", line.sku},
                                {"quantity", line.quantity},
                                {"unit_price_cents", line.unit_price_cents}});
    }
    again = doc.dump();
  } catch (...) {
    violated("an accepted order cannot be written as JSON", input);
  }
  auto r2 = parse(again, h, input);
  auto y = std::get_if<create_order>(&r2);
  REQUIRE(y != nullptr, "an accepted order is refused when sent again");
  REQUIRE(y->customer_email == x.customer_email && y->sku == x.sku
            && y->quantity == x.quantity && y->amount_cents == x.amount_cents
            && y->lines == x.lines,
          "an accepted order changes when sent again");
  return 0;
}
