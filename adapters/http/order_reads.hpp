// The read side the HTTP API serves, as a port: orders with their timelines
// and dead letters, the operator's lists, the outbox backlog for /metrics.
// PostgreSQL answers it (adapters/postgres/queries.hpp) and so does the
// in-memory database of the in-memory event bus (adapters/memory), with the
// same JSON shapes: the web UI (ui/) and the e2e suites read them.
//
// Called from HTTP worker threads, several at once. Implementations throw
// when their database cannot be reached (the API answers 503).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace troupe {

class order_reads {
public:
  virtual ~order_reads() = default;

  /// The order with its timeline and its dead letters (those keyed by its
  /// id); nullopt when unknown.
  virtual std::optional<nlohmann::json> get_order(const std::string& id) = 0;

  /// Orders, newest first, optionally of one status or with one client
  /// reference (`ref`: an Idempotency-Key, an intake message's key).
  virtual nlohmann::json
  list_orders(const std::string& status, int limit, const std::string& ref)
    = 0;

  /// The orders with these ids (unknown ids are left out), without
  /// timelines.
  virtual nlohmann::json get_orders(const std::vector<std::string>& ids) = 0;

  /// Dead letters, newest first.
  virtual nlohmann::json list_dead_letters(int limit) = 0;

  /// Outbox rows the broker refused for good (set aside), newest first.
  virtual nlohmann::json list_set_aside(int limit) = 0;

  /// Publishes a dead letter again to its original topic (through the
  /// outbox) and marks it redriven. Returns false when there is no such id.
  virtual bool redrive_dead_letter(int64_t id) = 0;

  /// Unpublished outbox rows and the age of the oldest, in seconds.
  virtual std::pair<int64_t, double> outbox_backlog() = 0;
};

} // namespace troupe
