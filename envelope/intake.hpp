// The messages of the intake topic (`intake.topic`, default
// `orders.requested`): the value is the JSON body that POST /orders takes
// (envelope/order_request.hpp), the key is the client's reference. A message
// without a key may carry the reference as an `idempotency_key` field; the
// key wins when both are there. A message with neither, or one that fails
// validation, is malformed: it becomes a dead letter on
// `orders.requested.dlq` with the validation error in its `dlq.error`
// header, and its offset moves on.
#pragma once

#include <string>

#include <caf/expected.hpp>
#include <caf/message.hpp>

namespace troupe::codec {

/// Decodes one intake message into an `order_requested` (actors/commands.hpp)
/// whose order carries the reference as its idempotency key. On error, the
/// error's text names the problem and the field. Never throws.
caf::expected<caf::message> decode_order_request(const std::string& key,
                                                 const std::string& payload);

} // namespace troupe::codec
