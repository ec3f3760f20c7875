// Event envelopes and identifiers.
#include "envelope/events.hpp"
#include "base/text.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

#include "base/utf8.hpp"

namespace troupe::events {

std::string new_uuid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng();
  uint64_t lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull; // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull; // variant 1
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF),
                static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  return buf;
}

bool is_uuid(const std::string& x) {
  return troupe::is_uuid(x);
}

std::string now_iso8601() {
  return iso8601_now();
}

envelope make(const char* type, const std::string& order_id,
              const std::string& correlation_id, nlohmann::json payload,
              const std::string& event_id, const std::string& occurred_at) {
  envelope result;
  result.event_id = event_id.empty() ? new_uuid() : event_id;
  nlohmann::json j{{"event_id", result.event_id},
                   {"type", type},
                   {"version", version},
                   {"order_id", order_id},
                   {"correlation_id", correlation_id},
                   {"occurred_at",
                    occurred_at.empty() ? now_iso8601() : occurred_at},
                   {"payload", std::move(payload)}};
  result.text = j.dump();
  return result;
}

std::string headers(const char* type, const std::string& correlation_id,
                    const std::string& traceparent) {
  nlohmann::json j{{"type", type}, {"correlation_id", correlation_id}};
  if (!traceparent.empty())
    j["traceparent"] = traceparent;
  return j.dump();
}

std::vector<std::pair<std::string, std::string>>
dead_letter_headers(const dead_letter& d) {
  return {{"dlq.original.topic", utf8::escape(d.topic)},
          {"dlq.original.partition", std::to_string(d.partition)},
          {"dlq.original.offset", std::to_string(d.offset)},
          {"dlq.error", utf8::escape(d.error)},
          {"dlq.attempts", std::to_string(d.attempts)},
          {"dlq.first.failure", d.first_failure},
          {"dlq.last.failure", d.last_failure},
          {"dlq.consumer", d.consumer},
          {"correlation_id", utf8::escape(d.correlation_id)}};
}

} // namespace troupe::events
