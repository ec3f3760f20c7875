// Intake messages (see intake.hpp).
#include "envelope/intake.hpp"

#include <caf/make_message.hpp>
#include <nlohmann/json.hpp>

#include "actors/commands.hpp"
#include "base/errors.hpp"
#include "envelope/order_request.hpp"

namespace troupe::codec {

namespace {

caf::error malformed(std::string why) {
  return make_error(troupe_errc::malformed_event, std::move(why));
}

bool printable_ascii(const std::string& x) {
  for (unsigned char c : x)
    if (c < 0x20 || c > 0x7E)
      return false;
  return true;
}

/// The `idempotency_key` field of a body that parsed as an order, if it is a
/// string; empty otherwise (the order's own validation already passed).
std::string reference_field(const std::string& payload) {
  auto doc = nlohmann::json::parse(payload, nullptr, false);
  auto i = doc.find("idempotency_key");
  if (i == doc.end() || !i->is_string())
    return {};
  return i->get<std::string>();
}

} // namespace

caf::expected<caf::message> decode_order_request(const std::string& key,
                                                 const std::string& payload) {
  try {
    auto parsed = parse_order_request(payload, order_headers{});
    if (auto bad = std::get_if<order_request_error>(&parsed)) {
      auto what = bad->error;
      if (!bad->field.empty())
        what += " (" + bad->field + ")";
      return malformed(what + ": " + bad->details);
    }
    auto order = std::get<create_order>(std::move(parsed));
    const char* source = "the message key";
    order.idempotency_key = key;
    if (key.empty()) {
      source = "field 'idempotency_key'";
      order.idempotency_key = reference_field(payload);
      if (order.idempotency_key.empty())
        return malformed("missing_ref: an intake message needs a reference, "
                         "its key or an 'idempotency_key' field");
    }
    if (!printable_ascii(order.idempotency_key)
        || order.idempotency_key.size() > order_limits::header_chars)
      return malformed(std::string{"invalid_ref: "} + source
                       + " must be printable ASCII of at most "
                       + std::to_string(order_limits::header_chars)
                       + " characters");
    return caf::make_message(order_requested{std::move(order)});
  } catch (const std::exception& e) {
    return malformed(std::string{"cannot decode: "} + e.what());
  }
}

} // namespace troupe::codec
