// The HTTP adapter: cpp-httplib on its own thread pool, embedded in the node.
//
//   client ──POST /orders──▶ [http thread] ──scoped_actor request──▶ pg_store
//   client ──GET /orders...─▶ [http thread] ──read──▶ order_queries (PostgreSQL)
//
// Every error is a JSON body {"error": ..., "details": ...} with a 4xx or 5xx
// status; nothing a client sends can crash the node or write half an order.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

namespace httplib {
class Server;
}

namespace troupe {

class order_queries;

struct http_settings {
  std::string host = "0.0.0.0";
  int32_t port = 8080;
  std::string cors_origin = "*";
  int32_t threads = 128;
  int64_t max_body_bytes = 65536;
  std::chrono::milliseconds deadline{30000}; ///< saga deadline of new orders
  std::chrono::milliseconds request_timeout{10000};
  std::string static_dir; ///< served at / when set (web UI)
};

class http_api {
public:
  /// `ready` reports whether the node can serve (and why not).
  using readiness = std::function<bool(std::string& why)>;

  /// Extra routes (metrics, admin) registered by the node.
  using route_hook = std::function<void(httplib::Server&)>;

  http_api(caf::actor_system& sys, http_settings cfg, caf::actor store,
           std::shared_ptr<order_queries> queries, readiness ready,
           route_hook extra = {});
  ~http_api();

  /// Binds and starts serving; returns an error message on failure.
  std::string start();

  /// New requests get 503 from now on (graceful shutdown).
  void drain();

  /// Stops the server and joins its threads.
  void stop();

  /// The port actually bound.
  int port() const {
    return bound_port_;
  }

private:
  void routes();

  caf::actor_system& sys_;
  http_settings cfg_;
  caf::actor store_;
  std::shared_ptr<order_queries> queries_;
  readiness ready_;
  route_hook extra_;
  std::unique_ptr<httplib::Server> srv_;
  std::thread thread_;
  std::atomic<bool> draining_{false};
  int bound_port_ = 0;
};

} // namespace troupe
