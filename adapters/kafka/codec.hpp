// Decoding of Kafka event envelopes into the domain's messages. A message
// that is not JSON, lacks a field, has a field of the wrong type, or carries
// an unknown type or version is malformed: it goes to the dead-letter topic
// without retries.
#pragma once

#include <string>

#include <caf/expected.hpp>
#include <caf/message.hpp>

namespace troupe::codec {

/// Decodes `payload` read from `topic` into the message its handler takes.
/// On error, the error's text names the problem. `correlation_id` is filled
/// in whenever the envelope carries one, even if it is otherwise malformed.
caf::expected<caf::message> decode(const std::string& topic,
                                   const std::string& payload,
                                   std::string& correlation_id);

} // namespace troupe::codec
