// The outbox relay's metrics: rows published and rows set aside, by topic.
// Declared here once; outbox_relay.cpp says what happened. (The backlog
// gauges are read at scrape time by the HTTP API: adapters/http/http_probe.)
#pragma once

#include <string>

namespace troupe {

/// What the relay counts. Owned by the relay's state; the series behind it
/// are process-wide and thread-safe.
class outbox_probe {
public:
  outbox_probe();

  /// `rows` outbox rows of `topic` published to Kafka.
  void produced(const std::string& topic, double rows);

  /// One outbox row of `topic` set aside after its publish budget.
  void set_aside(const std::string& topic);

  struct families;

private:
  families* f_;
};

} // namespace troupe
