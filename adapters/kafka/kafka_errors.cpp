// The classification of librdkafka's produce errors.
#include "adapters/kafka/kafka_errors.hpp"

#include <string>

#include <librdkafka/rdkafka.h>

#include "base/errors.hpp"

namespace troupe {

bool kafka_refused_for_good(int err) {
  switch (static_cast<rd_kafka_resp_err_t>(err)) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return true;
    default:
      return false;
  }
}

caf::error classify_produce(int err) {
  auto what = std::string{"kafka: "}
              + rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err));
  return kafka_refused_for_good(err) ? make_error(troupe_errc::internal, what)
                                     : make_error(troupe_errc::timeout, what);
}

} // namespace troupe
