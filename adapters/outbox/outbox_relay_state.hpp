// State of the outbox relay actor (see outbox_relay.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <pqxx/connection>
#include <pqxx/notification>
#include <pqxx/transaction>

struct rd_kafka_s;

#include "adapters/outbox/outbox_probe.hpp"
#include "adapters/postgres/connection.hpp"
#include "runtime/relay_core.hpp"

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

/// One batch in flight: its own connection, whose open transaction holds
/// the row locks of its claim (FOR UPDATE SKIP LOCKED) until its rows are
/// marked, so no other relay claims them meanwhile.
struct relay_slot {
  std::unique_ptr<pg_connection> conn;
  std::unique_ptr<pqxx::work> tx; ///< open while `batch` is in flight
  uint64_t batch = 0;             ///< 0: free
  std::chrono::steady_clock::time_point claimed_at;
};

/// A row's publish span: its context (sent in the `traceparent` header),
/// the span id of the step that wrote the row, and what it is named by.
struct publish_span {
  std::string traceparent;
  std::string parent_span;
  std::chrono::system_clock::time_point start;
  std::string topic;
  std::string key;
};

/// Owned by the relay actor; everything runs on its (detached) thread,
/// librdkafka's delivery callback included (inside rd_kafka_poll).
struct relay_state {
  static inline const char* name = "outbox_relay";
  relay_config cfg;
  std::unique_ptr<pg_connection> conn;       ///< listens; the recovery scan
  std::unique_ptr<outbox_listener> listener; ///< bound to `conn`'s session
  std::vector<relay_slot> slots;             ///< one per batch in flight
  rd_kafka_s* producer = nullptr;
  /// What to claim, produce, mark and retry (shared with the simulator).
  std::unique_ptr<relay_core> core;
  /// Spans of rows in flight, by outbox row id.
  std::unordered_map<int64_t, publish_span> spans;
  /// Whether a claim may find rows: false after a claim that found fewer
  /// than it asked for, until a NOTIFY or the fallback poll.
  bool more = true;
  std::chrono::steady_clock::time_point last_claim;
  /// No claims before this (after an outage, or an error).
  std::chrono::steady_clock::time_point paused_until;
  std::chrono::milliseconds backoff{100};
  uint64_t published = 0;
  bool recovered = false; ///< the start-up recovery scan ran
  outbox_probe probe;

  ~relay_state();
};

} // namespace troupe
