// State of the Kafka consumer actor (see consumer.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "adapters/kafka/consumer_probe.hpp"
#include "runtime/delivery.hpp"
#include "runtime/offset_tracker.hpp"

struct rd_kafka_s;

namespace troupe {

/// One message between poll and commit (its delivery runs in `delivery`).
struct inflight_msg {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
};

/// A revocation waiting for the in-flight work of its partitions.
struct pending_revoke {
  std::vector<std::pair<std::string, int32_t>> parts; ///< topic, partition
  std::chrono::steady_clock::time_point deadline;
};

struct consumer_state {
  static inline const char* name = "kafka_consumer";
  consumer_config cfg;
  rd_kafka_s* rk = nullptr;
  std::map<std::string, offset_tracker> trackers; ///< by topic
  std::unordered_map<uint64_t, inflight_msg> inflight;
  uint64_t next_id = 0;
  delivery_actor delivery;
  bool paused = false;
  bool outage = false;  ///< the store is unreachable: do not fetch
  bool closing = false; ///< revocations during close are immediate
  std::optional<pending_revoke> revoking;
  std::chrono::steady_clock::time_point last_commit;
  std::chrono::steady_clock::time_point last_lag;
  consumer_probe probe; ///< for the group `cfg.name`

  ~consumer_state();
};

} // namespace troupe
