// Envelope decoding.
#include "envelope/codec.hpp"

#include <cstdint>

#include <caf/make_message.hpp>
#include <nlohmann/json.hpp>

#include "actors/messages.hpp"
#include "base/errors.hpp"
#include "base/utf8.hpp"
#include "envelope/events.hpp"

namespace troupe::codec {

namespace {

using json = nlohmann::json;

struct malformed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const json& field(const json& obj, const char* key) {
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null())
    throw malformed(std::string{"missing field '"} + key + "'");
  return *i;
}

std::string str(const json& obj, const char* key) {
  auto& x = field(obj, key);
  if (!x.is_string())
    throw malformed(std::string{"field '"} + key + "' must be a string");
  return x.get<std::string>();
}

std::string opt_str(const json& obj, const char* key) {
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null())
    return {};
  if (!i->is_string())
    throw malformed(std::string{"field '"} + key + "' must be a string");
  return i->get<std::string>();
}

int64_t integer(const json& obj, const char* key) {
  auto& x = field(obj, key);
  if (!x.is_number_integer())
    throw malformed(std::string{"field '"} + key + "' must be an integer");
  if (x.is_number_unsigned() && x.get<uint64_t>() > INT64_MAX)
    throw malformed(std::string{"field '"} + key + "' is out of range");
  return x.get<int64_t>();
}

int32_t int32(const json& obj, const char* key) {
  auto x = integer(obj, key);
  if (x < INT32_MIN || x > INT32_MAX)
    throw malformed(std::string{"field '"} + key + "' is out of range");
  return static_cast<int32_t>(x);
}

bool boolean(const json& obj, const char* key) {
  auto& x = field(obj, key);
  if (!x.is_boolean())
    throw malformed(std::string{"field '"} + key + "' must be a boolean");
  return x.get<bool>();
}

} // namespace

caf::expected<caf::message>
decode(const std::string& topic, const std::string& key,
       const std::string& payload, std::string& correlation_id) try {
  // The parser checks UTF-8 inside strings only, and its messages quote
  // the offending bytes: check the whole value first, and quote nothing
  // unchecked.
  if (auto why = utf8::problem(payload); !why.empty())
    return make_error(troupe_errc::malformed_event, "value is " + why);
  if (auto why = utf8::problem(key); !why.empty())
    return make_error(troupe_errc::malformed_event, "key is " + why);
  json env;
  try {
    env = json::parse(payload);
  } catch (const json::exception& e) {
    return make_error(troupe_errc::malformed_event,
                      "not JSON: " + utf8::excerpt(e.what()));
  }
  try {
    if (!env.is_object())
      throw malformed("envelope must be a JSON object");
    if (auto i = env.find("correlation_id"); i != env.end() && i->is_string())
      correlation_id = i->get<std::string>();
    auto type = str(env, "type");
    if (type != topic)
      throw malformed("unknown event type '" + utf8::excerpt(type, 64)
                      + "' on topic " + topic);
    auto version = env.find("version");
    if (version != env.end()
        && (!version->is_number_integer()
            || version->get<int>() != events::version))
      throw malformed("unsupported event version");
    auto event_id = str(env, "event_id");
    auto order_id = str(env, "order_id");
    if (!events::is_uuid(order_id))
      throw malformed("order_id is not a UUID");
    auto corr = str(env, "correlation_id");
    auto& p = field(env, "payload");
    if (!p.is_object())
      throw malformed("payload must be an object");
    if (topic == events::order_created) {
      order_created x{event_id,
                      order_id,
                      corr,
                      str(p, "customer_email"),
                      str(p, "item_sku"),
                      int32(p, "quantity"),
                      integer(p, "amount_cents")};
      if (x.quantity < 1 || x.amount_cents < 0)
        throw malformed("quantity or amount_cents out of range");
      return caf::make_message(std::move(x));
    }
    if (topic == events::payment_result)
      return caf::make_message(payment_result{event_id, order_id, corr,
                                              boolean(p, "approved"),
                                              opt_str(p, "reason")});
    if (topic == events::inventory_result)
      return caf::make_message(inventory_result{event_id, order_id, corr,
                                                boolean(p, "reserved"),
                                                opt_str(p, "reason")});
    if (topic == events::status_changed)
      return caf::make_message(
        status_changed{event_id, order_id, corr, str(p, "status"),
                       opt_str(p, "reason"), opt_str(p, "customer_email")});
    if (topic == events::inventory_release)
      return caf::make_message(compensation{
        event_id, order_id, corr, str(p, "item_sku"), int32(p, "quantity")});
    if (topic == events::payment_refund)
      return caf::make_message(compensation{event_id, order_id, corr, "", 0});
    throw malformed("no decoder for topic " + topic);
  } catch (const malformed& e) {
    return make_error(troupe_errc::malformed_event, e.what());
  } catch (const json::exception& e) {
    return make_error(troupe_errc::malformed_event, utf8::excerpt(e.what()));
  }
} catch (const std::exception& e) {
  // Out of memory on a huge value, say: still final for this message.
  return make_error(troupe_errc::malformed_event,
                    std::string{"cannot decode: "} + e.what());
}

} // namespace troupe::codec
