// Read side of the HTTP API in PostgreSQL (the port: adapters/http/
// order_reads.hpp): orders, their timelines, dead letters, and the database
// part of readiness. Called from HTTP worker threads; a small pool
// of connections, one per concurrent caller, each "a world of its own".
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/connection>

#include "adapters/http/order_reads.hpp"

namespace troupe {

class order_queries : public order_reads {
public:
  order_queries(std::string url, size_t max_connections);
  ~order_queries() override;

  /// The order with its timeline and its dead letters (rows of
  /// dead_letters keyed by its id); nullopt when unknown. Throws when the
  /// database is unreachable.
  std::optional<nlohmann::json> get_order(const std::string& id) override;

  /// Orders, newest first, optionally of one status or with one client
  /// reference (`ref`: an Idempotency-Key, an intake message's key).
  nlohmann::json list_orders(const std::string& status, int limit,
                             const std::string& ref = {}) override;

  /// The orders with these ids (unknown ids are left out), without timelines.
  nlohmann::json get_orders(const std::vector<std::string>& ids) override;

  /// Dead letters, newest first.
  nlohmann::json list_dead_letters(int limit) override;

  /// Outbox rows Kafka refused for good (set aside), newest first.
  nlohmann::json list_set_aside(int limit) override;

  /// Publishes a dead letter again to its original topic (through the
  /// outbox) and marks it redriven. Returns false when there is no such id.
  bool redrive_dead_letter(int64_t id) override;

  /// Unpublished outbox rows and the age of the oldest, in seconds.
  std::pair<int64_t, double> outbox_backlog() override;

  /// Whether the database answers and carries at least `min_version`.
  bool ready(int min_version, std::string& why);

private:
  struct lease;
  template <class F>
  auto with_connection(F f);
  std::unique_ptr<pqxx::connection> acquire();
  void release(std::unique_ptr<pqxx::connection> conn);

  std::string url_;
  size_t max_;
  size_t open_ = 0;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
};

} // namespace troupe
