// State of the outbox relay actor (see outbox_relay.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include <pqxx/connection>
#include <pqxx/notification>

struct rd_kafka_s;

#include "adapters/outbox/outbox_probe.hpp"
#include "adapters/postgres/connection.hpp"

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
  std::unique_ptr<pg_connection> conn;       ///< the relay's own connection
  std::unique_ptr<outbox_listener> listener; ///< bound to `conn`'s session
  rd_kafka_s* producer = nullptr;
  /// Delivery reports of the current batch by outbox row id: `pending`, or
  /// librdkafka's error code (0: acknowledged). Reports for rows not in the
  /// map (a late report of an earlier batch) are ignored.
  static constexpr int pending = -100000;
  std::unordered_map<int64_t, int> delivered;
  size_t outstanding = 0;
  /// Rows whose produce failed, by id: when they may be tried again.
  std::unordered_map<int64_t, std::chrono::steady_clock::time_point> retry_at;
  std::chrono::milliseconds backoff{100};
  uint64_t published = 0;
  bool recovered = false; ///< the start-up recovery scan ran
  outbox_probe probe;

  ~relay_state();
};

} // namespace troupe
