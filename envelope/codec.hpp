// Decoding of Kafka event envelopes into the domain's messages. A message
// whose key or value is not valid UTF-8, that is not JSON, lacks a field, has
// a field of the wrong type, or carries an unknown type or version is
// malformed: it goes to the dead-letter topic without retries. The cause is
// always valid UTF-8 and short, since it travels in headers and rows.
#pragma once

#include <string>

#include <caf/expected.hpp>
#include <caf/message.hpp>

namespace troupe::codec {

/// Decodes the message with `key` and `payload` read from `topic` into the
/// message its handler takes. On error, the error's text names the problem.
/// `correlation_id` is filled in whenever the envelope carries one, even if
/// it is otherwise malformed. Never throws.
caf::expected<caf::message>
decode(const std::string& topic, const std::string& key,
       const std::string& payload, std::string& correlation_id);

} // namespace troupe::codec
