// The delivery runtime's metrics: retries and dead letters of one consumer
// group, by topic. Declared here once; delivery.cpp says what happened.
#pragma once

#include <string>

namespace troupe {

/// What delivery counts for one consumer group (the `group` label). Owned
/// by the delivery actor's state; the series behind it are process-wide and
/// thread-safe.
class delivery_probe {
public:
  explicit delivery_probe(std::string group = {});

  /// A failed message of `topic` is retried.
  void retried(const std::string& topic);

  /// A message of `topic` went to the dead letters (the store's table, or
  /// straight to Kafka).
  void dead_lettered(const std::string& topic);

  /// Its dead letter went straight to Kafka: the store refused it.
  void dead_letter_direct(const std::string& topic);

  /// Its dead letter was neither stored nor sent to Kafka (logged only).
  void dead_letter_dropped(const std::string& topic);

  struct families;

private:
  families* f_;
  std::string group_;
};

} // namespace troupe
