// Envelope encoding and decoding.
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

/// An optional text field holding one of a vocabulary's spellings.
template <class Parse>
auto word(const json& obj, const char* key, Parse parse) {
  auto text = opt_str(obj, key);
  auto x = parse(text);
  if (!x && text.empty())
    throw malformed(std::string{"missing field '"} + key + "'");
  if (!x)
    throw malformed(std::string{"field '"} + key + "' has unknown value '"
                    + utf8::excerpt(text, 64) + "'");
  return *x;
}

/// A reason as a payload field: null when there is none.
json reason_field(cancel_reason x) {
  return x == cancel_reason::none ? json() : json(to_string(x));
}

bool boolean(const json& obj, const char* key) {
  auto& x = field(obj, key);
  if (!x.is_boolean())
    throw malformed(std::string{"field '"} + key + "' must be a boolean");
  return x.get<bool>();
}

/// One line of `items`.
order_line line(const json& x, size_t i) {
  auto at = "items[" + std::to_string(i) + "]";
  if (!x.is_object())
    throw malformed(at + " must be an object");
  order_line l{str(x, "sku"), int32(x, "quantity"),
               integer(x, "unit_price_cents"), 0};
  l.amount_cents = x.contains("amount_cents") ? integer(x, "amount_cents")
                                              : l.unit_price_cents * l.quantity;
  if (l.quantity < 1 || l.unit_price_cents < 0 || l.amount_cents < 0)
    throw malformed(at + ": quantity or price out of range");
  return l;
}

/// The lines of a payload: `items` when present (events written since
/// orders have lines), else one line of `item_sku` and `quantity`.
order_lines lines(const json& p, int64_t amount_cents) {
  auto i = p.find("items");
  if (i == p.end() || i->is_null())
    return {
      single_line(str(p, "item_sku"), int32(p, "quantity"), amount_cents)};
  if (!i->is_array() || i->empty())
    throw malformed("field 'items' must be a non-empty array");
  order_lines result;
  for (size_t n = 0; n < i->size(); ++n)
    result.push_back(line((*i)[n], n));
  return result;
}

/// `items` as events carry it.
json items(const order_lines& xs) {
  auto out = json::array();
  for (auto& x : xs)
    out.push_back({{"sku", x.sku},
                   {"quantity", x.quantity},
                   {"unit_price_cents", x.unit_price_cents},
                   {"amount_cents", x.amount_cents}});
  return out;
}

/// The message of one topic, built as the topic's event type: a decoder
/// that builds another type does not compile.
template <class Event, class Build>
caf::message as(topic<Event>, Build build) {
  Event x = build();
  return caf::make_message(std::move(x));
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
    if (topic == topics::order_created.name)
      return as(topics::order_created, [&] {
        order_created x{event_id,
                        order_id,
                        corr,
                        str(p, "customer_email"),
                        str(p, "item_sku"),
                        int32(p, "quantity"),
                        integer(p, "amount_cents")};
        if (x.quantity < 1 || x.amount_cents < 0)
          throw malformed("quantity or amount_cents out of range");
        x.lines = lines(p, x.amount_cents);
        return x;
      });
    if (topic == topics::payment_result.name)
      return as(topics::payment_result, [&] {
        return payment_result{event_id, order_id, corr, boolean(p, "approved"),
                              word(p, "reason", parse_cancel_reason)};
      });
    if (topic == topics::inventory_result.name)
      return as(topics::inventory_result, [&] {
        return inventory_result{event_id, order_id, corr,
                                boolean(p, "reserved"),
                                word(p, "reason", parse_cancel_reason)};
      });
    if (topic == topics::status_changed.name)
      return as(topics::status_changed, [&] {
        return status_changed{event_id,
                              order_id,
                              corr,
                              word(p, "status", parse_order_status),
                              word(p, "reason", parse_cancel_reason),
                              opt_str(p, "customer_email")};
      });
    if (topic == topics::inventory_release.name)
      return as(topics::inventory_release, [&] {
        auto sku = str(p, "item_sku");
        auto quantity = int32(p, "quantity");
        auto all = p.contains("items") ? lines(p, 0) : order_lines{};
        return compensation{event_id, order_id, corr, sku, quantity, all};
      });
    if (topic == topics::payment_refund.name)
      return as(topics::payment_refund, [&] {
        return compensation{event_id, order_id, corr, "", 0, {}};
      });
    if (topic == topics::cancel_requested.name)
      return as(topics::cancel_requested, [&] {
        return cancel_requested{event_id, order_id, corr};
      });
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

events::envelope encode(const order_created& x, const std::string& ref,
                        const std::string& at) {
  return events::make(events::order_created, x.order_id, x.correlation_id,
                      {{"customer_email", x.customer_email},
                       {"item_sku", x.sku},
                       {"quantity", x.quantity},
                       {"amount_cents", x.amount_cents},
                       {"items", items(lines_of(x))},
                       {"ref", ref.empty() ? json() : json(ref)}},
                      x.event_id, at);
}

events::envelope encode(const payment_result& x, int64_t amount_cents,
                        const std::string& at) {
  return events::make(events::payment_result, x.order_id, x.correlation_id,
                      {{"approved", x.approved},
                       {"amount_cents", amount_cents},
                       {"reason", reason_field(x.reason)}},
                      x.event_id, at);
}

events::envelope encode(const inventory_result& x, const order_lines& lines,
                        const std::vector<std::string>& short_skus,
                        const std::string& at) {
  return events::make(events::inventory_result, x.order_id, x.correlation_id,
                      {{"reserved", x.reserved},
                       {"item_sku", lines.empty() ? "" : lines.front().sku},
                       {"quantity", total_quantity(lines)},
                       {"items", items(lines)},
                       {"short_skus", short_skus},
                       {"reason", reason_field(x.reason)}},
                      x.event_id, at);
}

events::envelope encode(const status_changed& x, const std::string& at) {
  return events::make(events::status_changed, x.order_id, x.correlation_id,
                      {{"status", to_string(x.status)},
                       {"previous_status", to_string(order_status::fresh)},
                       {"customer_email", x.customer_email},
                       {"reason", reason_field(x.reason)}},
                      x.event_id, at);
}

events::envelope encode_release(const compensation& x, const std::string& at) {
  json payload{{"item_sku", x.sku}, {"quantity", x.quantity}};
  if (!x.lines.empty())
    payload["items"] = items(x.lines);
  return events::make(events::inventory_release, x.order_id, x.correlation_id,
                      std::move(payload), x.event_id, at);
}

events::envelope encode_refund(const compensation& x, int64_t amount_cents,
                               const std::string& at) {
  return events::make(events::payment_refund, x.order_id, x.correlation_id,
                      {{"amount_cents", amount_cents}}, x.event_id, at);
}

events::envelope encode(const cancel_requested& x, const std::string& at) {
  return events::make(events::cancel_requested, x.order_id, x.correlation_id,
                      json::object(), x.event_id, at);
}

} // namespace troupe::codec
