// POST /orders validation. Every string that reaches the order is valid
// UTF-8 without control characters, trimmed and within its limit, because
// PostgreSQL refuses invalid UTF-8 and every response is JSON.
#include "envelope/order_request.hpp"

#include <cstdint>
#include <map>
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

/// A field of `obj` named `key`, shown to the client as `prefix` + `key`
/// (`quantity`, `items[2].quantity`).
std::variant<std::string, order_request_error>
string_field(const json& obj, const char* key, size_t max_chars,
             const std::string& prefix = "") {
  auto name = prefix + key;
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null())
    return bad_field(name, "missing field '" + name + "'");
  if (!i->is_string())
    return bad_field(name, "field '" + name + "' must be a string");
  auto& raw = i->get_ref<const std::string&>();
  if (!utf8::valid(raw)) // cannot happen after parsing; cheap to be sure
    return bad_field(name, "field '" + name + "' is not valid UTF-8");
  if (has_control(raw))
    return bad_field(name, "field '" + name + "' contains control characters");
  auto x = trim(raw);
  if (x.empty())
    return bad_field(name, "field '" + name
                             + "' must not be empty or only whitespace");
  if (utf8::length(x) > max_chars)
    return bad_field(name, "field '" + name + "' is longer than "
                             + std::to_string(max_chars) + " characters");
  return x;
}

std::variant<int64_t, order_request_error>
int_field(const json& obj, const char* key, const std::string& prefix = "") {
  auto name = prefix + key;
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null())
    return bad_field(name, "missing field '" + name + "'");
  if (!i->is_number_integer())
    return bad_field(name, "field '" + name + "' must be an integer");
  if (i->is_number_unsigned() && i->get<uint64_t>() > INT64_MAX)
    return bad_field(name, "field '" + name + "' is too large");
  return i->get<int64_t>();
}

/// A quantity: an integer from 1 to `order_limits::max_quantity`.
std::variant<int64_t, order_request_error>
quantity_field(const json& obj, const char* key,
               const std::string& prefix = "") {
  auto x = int_field(obj, key, prefix);
  auto name = prefix + key;
  if (auto q = std::get_if<int64_t>(&x)) {
    if (*q < 1)
      return bad_field(name, "field '" + name + "' must be at least 1");
    if (*q > order_limits::max_quantity)
      return bad_field(name, "field '" + name + "' must be at most "
                               + std::to_string(order_limits::max_quantity));
  }
  return x;
}

/// An amount of money in cents: an integer, not negative.
std::variant<int64_t, order_request_error>
cents_field(const json& obj, const char* key, const std::string& prefix = "") {
  auto x = int_field(obj, key, prefix);
  auto name = prefix + key;
  if (auto c = std::get_if<int64_t>(&x); c && *c < 0)
    return bad_field(name, "field '" + name + "' must not be negative");
  return x;
}

/// Moves the value of `result` into `dst`, or returns its error.
template <class Result, class T>
std::optional<order_request_error> take(Result&& result, T& dst) {
  if (auto e = std::get_if<order_request_error>(&result))
    return *e;
  dst = static_cast<T>(std::move(std::get<0>(result)));
  return std::nullopt;
}

/// Line `n` of `items`; `seen` maps each SKU so far to its line.
std::variant<order_line, order_request_error>
line_field(const json& x, size_t n, std::map<std::string, size_t>& seen) {
  auto prefix = "items[" + std::to_string(n) + "].";
  if (!x.is_object())
    return bad_field("items[" + std::to_string(n) + "]",
                     "field 'items[" + std::to_string(n)
                       + "]' must be an object");
  order_line line;
  if (auto e = take(string_field(x, "sku", order_limits::sku_chars, prefix),
                    line.sku))
    return *e;
  if (auto e = take(quantity_field(x, "quantity", prefix), line.quantity))
    return *e;
  if (auto e = take(cents_field(x, "unit_price_cents", prefix),
                    line.unit_price_cents))
    return *e;
  if (__builtin_mul_overflow(line.unit_price_cents, int64_t{line.quantity},
                             &line.amount_cents))
    return bad_field(prefix + "unit_price_cents",
                     "field '" + prefix
                       + "unit_price_cents' times the quantity is too large");
  auto [first, fresh] = seen.emplace(line.sku, n);
  if (!fresh)
    return bad_field(prefix + "sku", "field '" + prefix
                                       + "sku' repeats the SKU of items["
                                       + std::to_string(first->second)
                                       + "]; put the whole quantity on one "
                                         "line");
  return line;
}

/// The lines of an order in the `items` shape (1 to 50 lines, SKUs unique),
/// summarized in `out` (first SKU, total quantity, total amount).
std::optional<order_request_error> parse_items(const json& doc,
                                               create_order& out) {
  for (auto key : {"item_sku", "quantity"})
    if (doc.contains(key))
      return bad_field(key, std::string{"field '"} + key
                              + "' belongs to the single-item shape; with "
                                "'items', give each line's sku and quantity");
  auto& items = doc.at("items");
  if (!items.is_array())
    return bad_field("items", "field 'items' must be an array");
  if (items.empty() || items.size() > order_limits::max_lines)
    return bad_field("items", "field 'items' must hold 1 to "
                                + std::to_string(order_limits::max_lines)
                                + " lines");
  std::map<std::string, size_t> seen;
  int64_t total = 0;
  for (size_t n = 0; n < items.size(); ++n) {
    auto line = line_field(items[n], n, seen);
    if (auto e = std::get_if<order_request_error>(&line))
      return *e;
    auto& x = std::get<order_line>(line);
    if (__builtin_add_overflow(total, x.amount_cents, &total))
      return bad_field("items", "the lines' total amount is too large");
    out.lines.push_back(std::move(x));
  }
  if (doc.contains("amount_cents")) {
    int64_t stated = 0;
    if (auto e = take(cents_field(doc, "amount_cents"), stated))
      return *e;
    if (stated != total)
      return bad_field("amount_cents",
                       "field 'amount_cents' must be the sum of the lines ("
                         + std::to_string(total) + ") or left out");
  }
  out.sku = out.lines.front().sku;
  out.quantity = total_quantity(out.lines);
  out.amount_cents = total;
  return std::nullopt;
}

/// The single-item shape: `item_sku`, `quantity`, `amount_cents`, one line.
std::optional<order_request_error> parse_single_item(const json& doc,
                                                     create_order& out) {
  if (auto e = take(string_field(doc, "item_sku", order_limits::sku_chars),
                    out.sku))
    return *e;
  if (auto e = take(quantity_field(doc, "quantity"), out.quantity))
    return *e;
  if (auto e = take(cents_field(doc, "amount_cents"), out.amount_cents))
    return *e;
  out.lines = {single_line(out.sku, out.quantity, out.amount_cents)};
  return std::nullopt;
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
  if (auto e
      = take(string_field(doc, "customer_email", order_limits::email_chars),
             out.customer_email))
    return *e;
  auto at = out.customer_email.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == out.customer_email.size())
    return bad_field("customer_email", "field 'customer_email' must be an "
                                       "email address (name@domain)");
  auto lines = doc.contains("items") && !doc["items"].is_null()
                 ? parse_items(doc, out)
                 : parse_single_item(doc, out);
  if (lines)
    return *lines;
  if (auto e = check_header("Idempotency-Key", headers.idempotency_key))
    return *e;
  if (auto e = check_header("X-Correlation-ID", headers.correlation_id))
    return *e;
  out.idempotency_key = headers.idempotency_key;
  out.correlation_id = headers.correlation_id;
  return out;
}

} // namespace troupe
