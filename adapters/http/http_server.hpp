// The HTTP transport: libmicrohttpd with one epoll event thread for every
// connection, plus a small pool of worker threads for handlers that wait
// (database reads). A connection costs a socket and a few KiB, not a thread.
//
//   client ─▶ [event thread] reads headers and body, enforces the limits
//                 │ complete request
//                 ▼
//             handler(request, respond)   (called on the event thread)
//                 │ answers at once, or `post`s work to the pool / an actor
//                 ▼                        and the connection is suspended
//             respond(response)           (any thread) ─▶ resumed, sent
//
// Timeouts are deadlines, not inactivity timers, so a client trickling a
// byte at a time is cut off like a silent one: a connection must deliver a
// complete request within `read_timeout` of connecting (or of starting the
// request line, on a kept-alive connection) and may sit idle between two
// requests for at most `idle_timeout`; then its socket is shut down. A
// handler at work has no deadline here (the API bounds its own waits).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "adapters/http/http_probe.hpp"

struct MHD_Daemon;
struct MHD_Connection;

namespace troupe {

/// One complete HTTP request, independent of the transport.
struct http_request {
  std::string method; ///< "GET", "POST", ... ("HEAD" is served as GET)
  std::string path;   ///< decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>>
    headers; ///< names lower-case
  std::string body;
  std::vector<std::string> matches; ///< groups of the route's pattern
  std::chrono::steady_clock::time_point start; ///< request line received
  /// Set by the transport when a limit is exceeded before the body was read:
  /// 413 (body larger than allowed) or 431 (headers larger than allowed).
  int refused = 0;

  /// The value of a header (name in lower case), "" when absent.
  const std::string& header(std::string_view lower_name) const;
  bool has_param(std::string_view name) const;
  const std::string& param(std::string_view name) const;
};

/// An answer, independent of the transport.
struct http_response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// When set, sent instead of `body` without copying (must outlive the
  /// server: embedded files).
  std::string_view static_body;

  void set_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
  void set_content(std::string b, std::string type) {
    body = std::move(b);
    set_header("Content-Type", std::move(type));
  }
};

/// Delivers the answer to a request, exactly once, from any thread. If
/// every copy is dropped without answering, the client gets a 500.
using responder = std::function<void(http_response)>;

struct http_server_settings {
  std::string host = "0.0.0.0";
  int32_t port = 8080;  ///< 0: any free port
  int32_t threads = 16; ///< workers for `post`
  int32_t max_connections = 1024;
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds idle_timeout{30000};
  int64_t max_header_bytes = 8192;
  int64_t max_body_bytes = 65536;
};

/// Owned by the http_api; `handler` runs on the event thread and must not
/// block: it answers at once or hands the work on (`post`, an actor).
class http_server {
public:
  using handler = std::function<void(http_request&&, responder)>;

  http_server(http_server_settings cfg, handler h);
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and starts serving; returns an error message on failure.
  std::string start();

  /// Runs `job` on a worker thread (FIFO).
  void post(std::function<void()> job);

  /// Stops accepting connections, waits (up to `grace`) for the answers in
  /// flight, then closes every connection and joins the threads.
  void stop(std::chrono::milliseconds grace);

  /// The port actually bound.
  int port() const {
    return port_;
  }

  /// Open connections right now.
  int64_t connections() const {
    return open_.load();
  }

  // Called by libmicrohttpd's callbacks (event thread); not for users.
  struct connection_state;
  struct request_state;
  struct answer_slot;
  int on_access(MHD_Connection* c, const char* url, const char* method,
                const char* upload, size_t* upload_size, void** req_cls);
  void* on_request_line(MHD_Connection* c);
  void on_completed(void** req_cls);
  void on_connection(MHD_Connection* c, void** socket_ctx, bool started);

private:
  void dispatch(MHD_Connection* c, request_state* rs, http_request&& req);
  void deliver(request_state* rs, http_response&& res);
  void queue(MHD_Connection* c, request_state* rs);
  void sweep();
  void work();

  http_server_settings cfg_;
  handler handler_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;

  // Workers.
  std::mutex jobs_mtx_;
  std::condition_variable jobs_cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;

  // Answers not yet delivered (suspended connections).
  std::mutex pending_mtx_;
  std::condition_variable pending_cv_;
  int64_t pending_ = 0;
  bool closing_ = false; ///< answers are no longer awaited
  std::unordered_map<answer_slot*, std::weak_ptr<answer_slot>> outstanding_;

  // Connections and their deadlines, checked by the sweeper thread.
  std::mutex conns_mtx_;
  std::unordered_set<connection_state*> conns_;
  std::atomic<int64_t> open_{0};
  http_probe probe_;
  std::atomic<bool> sweeping_{false};
  std::thread sweeper_;
};

} // namespace troupe
