// Event envelopes as they travel on Kafka: JSON with event_id, type, version,
// order_id, correlation_id, occurred_at and payload.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/messages.hpp"
#include "actors/topics.hpp"

namespace troupe::events {

// Topic names (the event type of a message is its topic); declared with
// their event types in actors/topics.hpp.
constexpr const char* order_created = topics::order_created.name;
constexpr const char* payment_result = topics::payment_result.name;
constexpr const char* inventory_result = topics::inventory_result.name;
constexpr const char* status_changed = topics::status_changed.name;
constexpr const char* inventory_release = topics::inventory_release.name;
constexpr const char* payment_refund = topics::payment_refund.name;
constexpr const char* cancel_requested = topics::cancel_requested.name;

constexpr int version = 1;

/// A new random (version 4) UUID.
std::string new_uuid();

/// Whether `x` is a UUID in canonical text form.
bool is_uuid(const std::string& x);

/// Current UTC time, ISO-8601 with milliseconds.
std::string now_iso8601();

struct envelope {
  std::string event_id;
  std::string text; ///< the serialized envelope
};

/// Builds an envelope; the topic is the event type. It carries `event_id`
/// and `occurred_at` when they are given (an outbox row's own id, a
/// simulated clock), a new id and the current time otherwise.
envelope make(const char* type, const std::string& order_id,
              const std::string& correlation_id, nlohmann::json payload,
              const std::string& event_id = {},
              const std::string& occurred_at = {});

/// Kafka headers of an outbox row, as a JSON object of strings; with the
/// W3C `traceparent` of the step that emits the event when there is one.
std::string headers(const char* type, const std::string& correlation_id,
                    const std::string& traceparent = {});

/// Headers of a message's `.dlq` copy: where it came from, why it failed,
/// how often and when (text fields with invalid UTF-8 shown escaped).
std::vector<std::pair<std::string, std::string>>
dead_letter_headers(const dead_letter& d);

} // namespace troupe::events
