// Broker metadata for the node: whether the brokers answer, and how many
// partitions a topic has. One librdkafka handle that never produces; its
// calls block up to their timeout, so call it from a detached actor (the
// readiness prober) or at startup. Thread-safe (librdkafka's metadata calls
// are).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "adapters/kafka/kafka_settings.hpp"

struct rd_kafka_s;

namespace troupe {

class kafka_metadata {
public:
  explicit kafka_metadata(const kafka_settings& kafka);
  ~kafka_metadata();
  kafka_metadata(const kafka_metadata&) = delete;
  kafka_metadata& operator=(const kafka_metadata&) = delete;

  /// "" when a broker answers within `timeout`, otherwise why not.
  std::string why_unreachable(std::chrono::milliseconds timeout
                              = std::chrono::milliseconds{1000});

  /// Partitions of `topic`, or 0 when the brokers do not answer.
  int32_t partitions(const std::string& topic,
                     std::chrono::milliseconds timeout
                     = std::chrono::milliseconds{2000});

private:
  rd_kafka_s* rk_ = nullptr;
  std::string error_; ///< why the handle could not be created
};

} // namespace troupe
