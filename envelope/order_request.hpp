// Validation of a POST /orders request, apart from the HTTP server so that
// it can be unit-tested and fuzzed: the body text and the header values go
// in, a `create_order` or the reason for a 400 comes out. Called on the
// HTTP worker thread that serves the request; holds no state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "actors/commands.hpp"

namespace troupe {

/// Headers of POST /orders that end up in the order.
struct order_headers {
  std::string idempotency_key; ///< empty: none
  std::string correlation_id;  ///< empty: the handler generates one
};

/// Why a request is refused with 400.
struct order_request_error {
  std::string error;   ///< invalid_json, invalid_order or invalid_header
  std::string field;   ///< the offending field or header; "" for the body
  std::string details; ///< for the client; always valid UTF-8
};

/// Limits on what a request may carry.
namespace order_limits {
constexpr size_t email_chars = 254;
constexpr size_t sku_chars = 64;
constexpr size_t header_chars = 200;
constexpr int64_t max_quantity = 1000000; ///< per line
constexpr size_t max_lines = 50;
} // namespace order_limits

/// Parses and validates the body and headers of POST /orders. The body is
/// either the single-item shape (`item_sku`, `quantity`, `amount_cents`: one
/// line) or `items`, 1 to 50 lines of `sku`, `quantity` and
/// `unit_price_cents` with unique SKUs (a repeated SKU is refused, naming
/// its line: `items[2].sku`). On success, the command carries email, the
/// lines, their summary (first SKU, total quantity, total amount) and the
/// headers (the caller fills in order id and deadline). String fields lose
/// surrounding whitespace; a field that is empty after that is refused.
std::variant<create_order, order_request_error>
parse_order_request(std::string_view body, const order_headers& headers);

} // namespace troupe
