// Event envelopes as they travel on Kafka: JSON with event_id, type, version,
// order_id, correlation_id, occurred_at and payload.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/messages.hpp"

namespace troupe::events {

constexpr const char* order_created = "order.created";
constexpr const char* payment_result = "payment.result";
constexpr const char* inventory_result = "inventory.result";
constexpr const char* status_changed = "order.status.changed";
constexpr const char* inventory_release = "inventory.release";
constexpr const char* payment_refund = "payment.refund";

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

/// Builds an envelope; the topic is the event type.
envelope make(const char* type, const std::string& order_id,
              const std::string& correlation_id, nlohmann::json payload);

/// Kafka headers of an outbox row, as a JSON object of strings.
std::string headers(const char* type, const std::string& correlation_id);

/// Headers of a message's `.dlq` copy: where it came from, why it failed,
/// how often and when (text fields with invalid UTF-8 shown escaped).
std::vector<std::pair<std::string, std::string>>
dead_letter_headers(const dead_letter& d);

} // namespace troupe::events
