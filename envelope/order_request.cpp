// POST /orders validation. Every string that reaches the order is valid
// UTF-8 without control characters, trimmed and within its limit, because
// PostgreSQL refuses invalid UTF-8 and every response is JSON.
#include "envelope/order_request.hpp"

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/utf8.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

order_request_error bad_field(const std::string& field, std::string details) {
  return {"invalid_order", field, std::move(details)};
}

/// Follows the parse of the valid prefix of a body up to its first invalid
/// UTF-8 byte, to tell which top-level field the byte belongs to.
struct field_locator : nlohmann::json_sax<json> {
  int depth = 0;
  std::string field;     ///< last top-level key
  bool in_value = false; ///< inside the value of `field`

  bool scalar() {
    if (depth == 1)
      in_value = false;
    return true;
  }
  bool null() override {
    return scalar();
  }
  bool boolean(bool) override {
    return scalar();
  }
  bool number_integer(number_integer_t) override {
    return scalar();
  }
  bool number_unsigned(number_unsigned_t) override {
    return scalar();
  }
  bool number_float(number_float_t, const string_t&) override {
    return scalar();
  }
  bool string(string_t&) override {
    return scalar();
  }
  bool binary(binary_t&) override {
    return scalar();
  }
  bool start_object(std::size_t) override {
    ++depth;
    return true;
  }
  bool end_object() override {
    --depth;
    return scalar();
  }
  bool start_array(std::size_t) override {
    ++depth;
    return true;
  }
  bool end_array() override {
    --depth;
    return scalar();
  }
  bool key(string_t& k) override {
    if (depth == 1) {
      field = k;
      in_value = true;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception&) override {
    return false;
  }
};

order_request_error invalid_utf8(std::string_view body, size_t at) {
  field_locator loc;
  json::sax_parse(body.substr(0, at), &loc);
  auto where = " (byte " + std::to_string(at) + " of "
               + std::to_string(body.size()) + ")";
  if (loc.depth >= 1 && loc.in_value)
    return bad_field(loc.field, "field '" + utf8::excerpt(loc.field, 64)
                                  + "' is not valid UTF-8" + where);
  if (loc.depth >= 1)
    return bad_field("", "a field name is not valid UTF-8" + where);
  return bad_field("", "the body is not valid UTF-8" + where);
}

/// Control characters: C0, DEL and C1 (U+0080..U+009F, C2 80..C2 9F).
bool has_control(std::string_view x) {
  for (size_t i = 0; i < x.size(); ++i) {
    auto c = static_cast<unsigned char>(x[i]);
    if (c < 0x20 || c == 0x7F)
      return true;
    if (c == 0xC2 && i + 1 < x.size()
        && static_cast<unsigned char>(x[i + 1]) <= 0x9F)
      return true;
  }
  return false;
}

/// Length of the whitespace character at the start of `x`, or 0: the ASCII
/// space and Unicode's spaces (no-break, en/em, ideographic, zero width, BOM).
size_t leading_space(std::string_view x) {
  static constexpr std::string_view spaces[] = {" ",
                                                "\xC2\xA0",
                                                "\xE1\x9A\x80",
                                                "\xE2\x80\x80",
                                                "\xE2\x80\x81",
                                                "\xE2\x80\x82",
                                                "\xE2\x80\x83",
                                                "\xE2\x80\x84",
                                                "\xE2\x80\x85",
                                                "\xE2\x80\x86",
                                                "\xE2\x80\x87",
                                                "\xE2\x80\x88",
                                                "\xE2\x80\x89",
                                                "\xE2\x80\x8A",
                                                "\xE2\x80\x8B",
                                                "\xE2\x80\xA8",
                                                "\xE2\x80\xA9",
                                                "\xE2\x80\xAF",
                                                "\xE2\x81\x9F",
                                                "\xE3\x80\x80",
                                                "\xEF\xBB\xBF"};
  for (auto s : spaces)
    if (x.substr(0, s.size()) == s)
      return s.size();
  return 0;
}

size_t trailing_space(std::string_view x) {
  for (size_t n = 1; n <= 3 && n <= x.size(); ++n)
    if (leading_space(x.substr(x.size() - n)) == n)
      return n;
  return 0;
}

std::string trim(std::string_view x) {
  while (auto n = leading_space(x))
    x.remove_prefix(n);
  while (auto n = trailing_space(x))
    x.remove_suffix(n);
  return std::string{x};
}

std::variant<std::string, order_request_error>
string_field(const json& body, const char* key, size_t max_chars) {
  auto i = body.find(key);
  if (i == body.end() || i->is_null())
    return bad_field(key, std::string{"missing field '"} + key + "'");
  if (!i->is_string())
    return bad_field(key, std::string{"field '"} + key + "' must be a string");
  auto& raw = i->get_ref<const std::string&>();
  if (!utf8::valid(raw)) // cannot happen after parsing; cheap to be sure
    return bad_field(key,
                     std::string{"field '"} + key + "' is not valid UTF-8");
  if (has_control(raw))
    return bad_field(key, std::string{"field '"} + key
                            + "' contains control characters");
  auto x = trim(raw);
  if (x.empty())
    return bad_field(key, std::string{"field '"} + key
                            + "' must not be empty or only whitespace");
  if (utf8::length(x) > max_chars)
    return bad_field(key, std::string{"field '"} + key + "' is longer than "
                            + std::to_string(max_chars) + " characters");
  return x;
}

std::variant<int64_t, order_request_error> int_field(const json& body,
                                                     const char* key) {
  auto i = body.find(key);
  if (i == body.end() || i->is_null())
    return bad_field(key, std::string{"missing field '"} + key + "'");
  if (!i->is_number_integer())
    return bad_field(key,
                     std::string{"field '"} + key + "' must be an integer");
  if (i->is_number_unsigned() && i->get<uint64_t>() > INT64_MAX)
    return bad_field(key, std::string{"field '"} + key + "' is too large");
  return i->get<int64_t>();
}

std::optional<order_request_error> check_header(const char* name,
                                                const std::string& value) {
  for (unsigned char c : value)
    if (c < 0x20 || c > 0x7E)
      return order_request_error{"invalid_header", name,
                                 std::string{"header '"} + name
                                   + "' must be printable ASCII"};
  if (value.size() > order_limits::header_chars)
    return order_request_error{
      "invalid_header", name,
      std::string{"header '"} + name + "' must be at most "
        + std::to_string(order_limits::header_chars) + " characters"};
  return std::nullopt;
}

} // namespace

std::variant<create_order, order_request_error>
parse_order_request(std::string_view body, const order_headers& headers) {
  if (auto at = utf8::first_invalid(body); at != std::string_view::npos)
    return invalid_utf8(body, at);
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::exception& e) {
    return order_request_error{"invalid_json", "", utf8::excerpt(e.what())};
  }
  if (!doc.is_object())
    return bad_field("", "the body must be a JSON object");
  create_order out;
  auto take = [](auto&& result,
                 auto& dst) -> std::optional<order_request_error> {
    if (auto e = std::get_if<order_request_error>(&result))
      return *e;
    dst = std::move(std::get<0>(result));
    return std::nullopt;
  };
  if (auto e
      = take(string_field(doc, "customer_email", order_limits::email_chars),
             out.customer_email))
    return *e;
  auto at = out.customer_email.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == out.customer_email.size())
    return bad_field("customer_email", "field 'customer_email' must be an "
                                       "email address (name@domain)");
  if (auto e = take(string_field(doc, "item_sku", order_limits::sku_chars),
                    out.sku))
    return *e;
  int64_t quantity = 0;
  if (auto e = take(int_field(doc, "quantity"), quantity))
    return *e;
  if (quantity < 1)
    return bad_field("quantity", "field 'quantity' must be at least 1");
  if (quantity > order_limits::max_quantity)
    return bad_field("quantity",
                     "field 'quantity' must be at most "
                       + std::to_string(order_limits::max_quantity));
  out.quantity = static_cast<int32_t>(quantity);
  if (auto e = take(int_field(doc, "amount_cents"), out.amount_cents))
    return *e;
  if (out.amount_cents < 0)
    return bad_field("amount_cents",
                     "field 'amount_cents' must not be negative");
  if (auto e = check_header("Idempotency-Key", headers.idempotency_key))
    return *e;
  if (auto e = check_header("X-Correlation-ID", headers.correlation_id))
    return *e;
  out.idempotency_key = headers.idempotency_key;
  out.correlation_id = headers.correlation_id;
  return out;
}

} // namespace troupe
