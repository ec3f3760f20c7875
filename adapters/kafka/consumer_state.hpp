// State of the Kafka consumer actor (see consumer.hpp).
#pragma once

#include <chrono>
#include <memory>

#include "adapters/kafka/consumer_probe.hpp"
#include "runtime/consumer_core.hpp"
#include "runtime/delivery.hpp"

struct rd_kafka_s;

namespace troupe {

struct consumer_state {
  static inline const char* name = "kafka_consumer";
  consumer_config cfg;
  rd_kafka_s* rk = nullptr;
  /// What to deliver and commit, shared with the simulated consumer.
  std::unique_ptr<consumer_core> core;
  delivery_actor delivery;
  bool paused = false;
  bool outage = false;  ///< the store is unreachable: do not fetch
  bool closing = false; ///< revocations during close are immediate
  std::chrono::steady_clock::time_point last_commit;
  std::chrono::steady_clock::time_point last_lag;
  consumer_probe probe; ///< for the group `cfg.name`

  ~consumer_state();
};

} // namespace troupe
