// The payloads of Troupe's Kafka events: encoding each event into its
// envelope, and decoding envelopes back into the domain's messages (the unit
// suite `codec` checks the round trip). A message
// whose key or value is not valid UTF-8, that is not JSON, lacks a field, has
// a field of the wrong type, or carries an unknown type or version is
// malformed: it goes to the dead-letter topic without retries. The cause is
// always valid UTF-8 and short, since it travels in headers and rows.
#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/message.hpp>

#include "actors/messages.hpp"
#include "envelope/events.hpp"

namespace troupe::codec {

/// Decodes the message with `key` and `payload` read from `topic` into the
/// message its handler takes. On error, the error's text names the problem.
/// `correlation_id` is filled in whenever the envelope carries one, even if
/// it is otherwise malformed. Never throws.
caf::expected<caf::message>
decode(const std::string& topic, const std::string& key,
       const std::string& payload, std::string& correlation_id);

/// The envelope of each event, as `decode` reads it back. The envelope
/// carries the event's own id (`x.event_id`; a new one when it is empty) and
/// says it occurred `at` (now when empty). Payload fields that only readers
/// outside Troupe use are passed beside the event.
/// `order.created`: `ref` is the client's reference (null when empty).
events::envelope encode(const order_created& x, const std::string& ref = {},
                        const std::string& at = {});
events::envelope encode(const payment_result& x, int64_t amount_cents,
                        const std::string& at = {});
/// `inventory.result`: the lines, and the SKUs that were short when out of
/// stock.
events::envelope encode(const inventory_result& x, const order_lines& lines,
                        const std::vector<std::string>& short_skus,
                        const std::string& at = {});
events::envelope encode(const status_changed& x, const std::string& at = {});
/// `inventory.release`: the reservation's lines (and, for readers of
/// single-item orders, the first SKU and the total quantity).
events::envelope encode_release(const compensation& x,
                                const std::string& at = {});
/// `payment.refund`: the amount to give back.
events::envelope encode_refund(const compensation& x, int64_t amount_cents,
                               const std::string& at = {});
/// `order.cancel.requested`: the payload is empty.
events::envelope encode(const cancel_requested& x, const std::string& at = {});

} // namespace troupe::codec
