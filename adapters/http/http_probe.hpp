// The HTTP server's and API's metrics: requests by method, route and code
// with a latency histogram, 401 answers, open connections and connections
// cut at a deadline; and the outbox backlog, which /metrics reads from the
// store at every scrape. Declared here once; http_server.cpp and
// http_api.cpp say what happened.
#pragma once

#include <cstdint>
#include <string>

namespace troupe {

/// Why the server closed a connection itself (the `reason` label).
enum class connection_cut : uint8_t {
  read_timeout, ///< the request was not complete in time
  idle_timeout, ///< a kept-alive connection sat idle too long
};

const char* to_string(connection_cut x);

/// What the HTTP adapter counts. Any number may exist; they share the
/// process-wide series, and every member may be called from any thread
/// (libmicrohttpd's, the deadline reaper).
class http_probe {
public:
  http_probe();

  /// One request answered with `code`, `seconds` after it arrived.
  void request(const std::string& method, const std::string& route, int code,
               double seconds);

  /// One request refused with 401 (missing or wrong bearer token).
  void unauthorized(const std::string& route);

  /// How many connections are open.
  void connections(int64_t open);

  /// `n` connections closed by the server for `why`.
  void connections_closed(connection_cut why, int64_t n);

  /// The unpublished outbox rows and the age of the oldest, in seconds.
  void outbox_backlog(int64_t rows, double oldest_age_seconds);

  struct families;

private:
  families* f_;
};

} // namespace troupe
