// State of the Kafka consumer actor (see consumer.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <unordered_map>

#include <caf/message.hpp>

#include "offset_tracker.hpp"

struct rd_kafka_s;

namespace troupe {

/// One message between poll and commit.
struct inflight_msg {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string payload;
  std::string correlation_id;
  caf::message msg;
  int32_t attempts = 0;
  std::string first_failure;
  std::string last_error;
};

struct consumer_state {
  static inline const char* name = "kafka_consumer";
  consumer_config cfg;
  rd_kafka_s* rk = nullptr;
  std::map<std::string, offset_tracker> trackers; ///< by topic
  std::unordered_map<uint64_t, inflight_msg> inflight;
  uint64_t next_id = 0;
  bool paused = false;
  std::chrono::steady_clock::time_point last_commit;
  std::mt19937_64 rng{std::random_device{}()};
  uint64_t consumed = 0;
  uint64_t dead_lettered = 0;
  uint64_t retried = 0;

  ~consumer_state();
};

} // namespace troupe
