// How a failed produce is classified: the one place where librdkafka's
// error codes become Troupe errors. A message the broker refuses for good
// (too large, invalid, a topic that does not exist or may not be written)
// is final for that message; anything else (brokers down, timeouts, a full
// queue) may go through on a later try.
#pragma once

#include <caf/error.hpp>

namespace troupe {

/// Whether librdkafka's error `err` (an rd_kafka_resp_err_t) refuses the
/// message for good.
bool kafka_refused_for_good(int err);

/// `internal` (final) when refused for good, `timeout` (retry) otherwise.
caf::error classify_produce(int err);

} // namespace troupe
