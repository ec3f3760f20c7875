// The Kafka consumer's metrics: messages consumed, by group and topic, and
// the lag of each assigned partition. Declared here once; consumer.cpp says
// what happened.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace prometheus {
class Counter;
} // namespace prometheus

namespace troupe {

/// What one consumer (one group, the `group` label) counts. Owned by the
/// consumer's state and used on its thread only: it keeps the consumed
/// counters it touched, so a message costs no label lookup. The series
/// themselves are process-wide.
class consumer_probe {
public:
  explicit consumer_probe(std::string group = {});

  /// One message of `topic` fetched for processing.
  void consumed(const std::string& topic);

  /// The messages of a partition not yet done by this consumer.
  void lag(const std::string& topic, int32_t partition, int64_t messages);

  /// The partition is no longer this consumer's: its lag series goes.
  void forget_lag(const std::string& topic, int32_t partition);

  struct families;

private:
  families* f_;
  std::string group_;
  std::unordered_map<std::string, prometheus::Counter*> consumed_;
};

} // namespace troupe
