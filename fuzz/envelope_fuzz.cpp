// Fuzz target: the Kafka envelope decoder (adapters/kafka/codec.hpp).
//
// Input: "<topic>\n<key>\n<value>". A first line that is not a consumed
// topic picks one by its length, so every decoder is reached.
//
// Invariants, beyond "no crash": decode never throws; a key or value that
// is not valid UTF-8 is refused; every refusal is malformed_event with a
// cause that is short, valid UTF-8; an accepted event is of the topic's
// message type, its strings are valid UTF-8, its order id is a UUID and its
// numbers are in range.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "actors/messages.hpp"
#include "base/errors.hpp"
#include "base/utf8.hpp"
#include "envelope/codec.hpp"
#include "envelope/events.hpp"

using namespace troupe;

namespace {

const char* fuzz_topics[] = {events::order_created,     events::payment_result,
                             events::inventory_result,  events::status_changed,
                             events::inventory_release, events::payment_refund,
                             events::cancel_requested};
constexpr size_t fuzz_topic_count = sizeof(fuzz_topics)
                                    / sizeof(fuzz_topics[0]);

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

template <class... Ts>
bool all_valid(const Ts&... xs) {
  return (utf8::valid(xs) && ...);
}

// A decoded status or reason is a value the vocabulary spells and reads back.
bool known(cancel_reason x) {
  return parse_cancel_reason(to_string(x)) == x;
}

bool known(order_status x) {
  return parse_order_status(to_string(x)) == x;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  auto nl1 = input.find('\n');
  auto first = input.substr(0, nl1);
  std::string topic;
  for (auto t : fuzz_topics)
    if (first == t)
      topic = t;
  if (topic.empty())
    topic = fuzz_topics[first.size() % fuzz_topic_count];
  std::string key, value;
  if (nl1 != std::string_view::npos) {
    auto rest = input.substr(nl1 + 1);
    auto nl2 = rest.find('\n');
    key = std::string{rest.substr(0, nl2)};
    if (nl2 != std::string_view::npos)
      value = std::string{rest.substr(nl2 + 1)};
  }
  std::string correlation_id;
  caf::expected<caf::message> result{caf::message{}};
  try {
    result = codec::decode(topic, key, value, correlation_id);
  } catch (...) {
    REQUIRE(false, "decode threw");
  }
  REQUIRE(utf8::valid(correlation_id), "correlation id is not valid UTF-8");
  if (!result) {
    auto& err = result.error();
    REQUIRE(err.category() == troupe_category
              && err.code()
                   == static_cast<uint8_t>(troupe_errc::malformed_event),
            "refusal is not malformed_event");
    auto cause = describe(err);
    REQUIRE(utf8::valid(cause), "cause is not valid UTF-8");
    REQUIRE(cause.size() < 600, "cause is longer than 600 bytes");
    return 0;
  }
  REQUIRE(utf8::valid(key) && utf8::valid(value),
          "accepted a key or value that is not valid UTF-8");
  auto& msg = *result;
  auto common = [&](const auto& x) {
    REQUIRE(all_valid(x.event_id, x.order_id, x.correlation_id),
            "an envelope string is not valid UTF-8");
    REQUIRE(events::is_uuid(x.order_id), "order id is not a UUID");
    REQUIRE(x.correlation_id == correlation_id,
            "correlation id out differs from the event's");
  };
  if (topic == events::order_created) {
    REQUIRE(msg.match_elements<order_created>(), "wrong message type");
    auto& x = msg.get_as<order_created>(0);
    common(x);
    REQUIRE(all_valid(x.customer_email, x.sku),
            "a payload string is not valid UTF-8");
    REQUIRE(x.quantity >= 1 && x.amount_cents >= 0, "numbers out of range");
  } else if (topic == events::payment_result) {
    REQUIRE(msg.match_elements<payment_result>(), "wrong message type");
    auto& x = msg.get_as<payment_result>(0);
    common(x);
    REQUIRE(known(x.reason), "reason is not one of the vocabulary's");
  } else if (topic == events::inventory_result) {
    REQUIRE(msg.match_elements<inventory_result>(), "wrong message type");
    auto& x = msg.get_as<inventory_result>(0);
    common(x);
    REQUIRE(known(x.reason), "reason is not one of the vocabulary's");
  } else if (topic == events::status_changed) {
    REQUIRE(msg.match_elements<status_changed>(), "wrong message type");
    auto& x = msg.get_as<status_changed>(0);
    common(x);
    REQUIRE(known(x.status) && known(x.reason),
            "status or reason is not one of the vocabulary's");
    REQUIRE(utf8::valid(x.customer_email),
            "a payload string is not valid UTF-8");
  } else if (topic == events::cancel_requested) {
    REQUIRE(msg.match_elements<cancel_requested>(), "wrong message type");
    common(msg.get_as<cancel_requested>(0));
  } else {
    REQUIRE(msg.match_elements<compensation>(), "wrong message type");
    auto& x = msg.get_as<compensation>(0);
    common(x);
    REQUIRE(utf8::valid(x.sku), "sku is not valid UTF-8");
  }
  return 0;
}
