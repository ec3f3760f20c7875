// State of the outbox relay actor (see outbox_relay.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include <pqxx/connection>
#include <pqxx/notification>

struct rd_kafka_s;

namespace troupe {

/// Wakes the relay when a transaction inserted outbox rows (NOTIFY).
class outbox_listener : public pqxx::notification_receiver {
public:
  explicit outbox_listener(pqxx::connection_base& c)
    : pqxx::notification_receiver(c, "troupe_outbox") {
  }
  void operator()(const std::string&, int) override {
  }
};

struct relay_state {
  static inline const char* name = "outbox_relay";
  relay_config cfg;
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<outbox_listener> listener;
  rd_kafka_s* producer = nullptr;
  std::vector<int8_t> delivered; ///< per row of the current batch: 0, 1, -1
  size_t outstanding = 0;
  std::chrono::milliseconds backoff{100};
  std::chrono::steady_clock::time_point last_cleanup;
  uint64_t published = 0;
  bool recovered = false; ///< the start-up recovery scan ran

  ~relay_state();
};

} // namespace troupe
