// The HTTP API, embedded in the node: routes over the http_server transport
// (libmicrohttpd, one event thread for all connections, a small worker pool).
//
//   client ──POST /orders──▶ [event thread] ─▶ [worker: parse] ─▶ request ─▶ pg_store
//                                  ▲                                           │
//                                  └──────────── answer (connection resumed) ◀─┘
//   client ──POST /orders/{id}/cancel─▶ (the same way) ─▶ request ─▶ pg_store
//          once recorded: [worker] ──read──▶ order_reads, the answer is the
//          order as GET /orders/{id} shows it
//   client ──GET /orders...─▶ [event thread] ─▶ [worker] ──read──▶ order_reads
//
// The store and the read side are ports: PostgreSQL's (pg_store,
// order_queries) or the in-memory database's (sim/memory_store,
// adapters/memory).
//
// Every error is a JSON body {"error": ..., "details": ...} with a 4xx or 5xx
// status; nothing a client sends can crash the node or write half an order.
// Operator endpoints (`/admin/...`) and, with its own token, `/metrics` are
// checked in one place before routing (access.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/commands.hpp"
#include "actors/saga_probe.hpp"
#include "adapters/http/access.hpp"
#include "adapters/http/http_probe.hpp"
#include "adapters/http/http_server.hpp"

namespace troupe {

class admission_gate;
class order_reads;

struct http_settings {
  std::string host = "0.0.0.0";
  int32_t port = 8080;
  std::string cors_origin; ///< empty: no cross-origin callers
  int32_t threads = 16;    ///< workers for handlers that wait
  int32_t max_connections = 1024;
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};
  int64_t max_header_bytes = 8192;
  int64_t max_body_bytes = 65536;
  std::chrono::milliseconds deadline{30000}; ///< saga deadline of new orders
  std::chrono::milliseconds request_timeout{10000};
  std::string static_dir; ///< served at / when set (web UI)
  /// Admission control of new orders; none: no bound.
  std::shared_ptr<admission_gate> admission;
  access_policy admin;             ///< `/admin/...`
  access_policy metrics{"", true}; ///< `/metrics`
};

/// The routes of the API; the node may add its own through `route_hook`.
class http_routes {
public:
  using handler = std::function<void(const http_request&, http_response&)>;
  /// Answers later, from any thread, through the responder.
  using async_handler = std::function<void(const http_request&, responder)>;

  /// Where a handler runs: the event thread (only for handlers that never
  /// wait: health, readiness, embedded files) or a worker.
  enum class on { event_thread, worker };

  /// `pattern` is a path, or a regular expression when it has a group.
  void get(const std::string& pattern, handler h, on where = on::worker);
  void post(const std::string& pattern, handler h, on where = on::worker);
  void post_async(const std::string& pattern, async_handler h);

  struct route {
    std::string method;
    std::string path; ///< exact path, or empty with `regex`
    std::regex regex;
    bool is_regex = false;
    on where = on::worker;
    handler sync;
    async_handler async;
  };

  /// The route for a request; fills `matches` with the pattern's groups.
  const route* match(const std::string& method, const std::string& path,
                     std::vector<std::string>& matches) const;

private:
  void add(const std::string& method, const std::string& pattern, route r);
  std::vector<route> routes_;
};

class http_api {
public:
  /// `ready` reports whether the node can serve (and why not).
  using readiness = std::function<bool(std::string& why)>;

  /// Extra routes registered by the node.
  using route_hook = std::function<void(http_routes&)>;

  http_api(caf::actor_system& sys, http_settings cfg, order_intake_actor store,
           std::shared_ptr<order_reads> queries, readiness ready,
           route_hook extra = {});
  ~http_api();

  /// Binds and starts serving; returns an error message on failure.
  std::string start();

  /// New requests get 503 from now on (graceful shutdown).
  void drain();

  /// Stops the server: waits for the answers in flight, then closes.
  void stop();

  /// The port actually bound.
  int port() const {
    return server_ ? server_->port() : 0;
  }

private:
  void routes();
  void probe_routes();
  void order_routes();
  void admin_routes();
  void handle(http_request&& req, responder done);
  void create_order(const http_request& req, responder done);
  void cancel(const http_request& req, responder done);

  caf::actor_system& sys_;
  http_settings cfg_;
  order_intake_actor store_;
  std::shared_ptr<order_reads> queries_;
  readiness ready_;
  route_hook extra_;
  http_routes routes_;
  /// Shared so that an actor answering a request late (a cancel reads the
  /// order on a worker) can post there only while the server exists.
  std::shared_ptr<http_server> server_;
  std::atomic<bool> draining_{false};
  http_probe probe_;
  saga_probe saga_;
};

} // namespace troupe
