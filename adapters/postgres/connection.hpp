// One PostgreSQL connection of one owner (an actor or a thread), the way
// every part of Troupe that talks to PostgreSQL holds it: opened on demand,
// set up once per connection (prepared statements, session settings,
// LISTEN), reopened after a failure no sooner than its backoff allows
// (100 ms doubling to 2 s), each connect and each failure logged with the
// owner's name. Not thread-safe: a connection is "a world of its own".
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <pqxx/connection>

namespace troupe {

/// Opens a connection to `url` and names it `application_name` in
/// pg_stat_activity. Throws libpqxx's exceptions.
std::unique_ptr<pqxx::connection> pg_connect(const std::string& url,
                                             const std::string& who);

class pg_connection {
public:
  using hook = std::function<void(pqxx::connection&)>;

  /// `setup` runs on every new connection; `teardown` before one is closed
  /// (e.g. to drop a notification receiver bound to it).
  pg_connection(std::string url, std::string who, hook setup = {},
                hook teardown = {});
  ~pg_connection();

  pg_connection(const pg_connection&) = delete;
  pg_connection& operator=(const pg_connection&) = delete;

  /// The open connection, or nullptr while PostgreSQL cannot be reached
  /// or the backoff after the last failed attempt has not passed yet.
  pqxx::connection* get();

  /// The open connection; throws the connect error (ignores the backoff).
  pqxx::connection& open();

  /// Closes the connection (after an error that broke it, or to drop a
  /// session's locks); the next get() or open() reconnects.
  void reset();

  /// Whether a connection is open now.
  bool is_open() const;

  /// The delay before the next connect attempt after a failure.
  std::chrono::milliseconds backoff() const {
    return backoff_;
  }

private:
  pqxx::connection& connect();

  std::string url_;
  std::string who_;
  hook setup_;
  hook teardown_;
  std::unique_ptr<pqxx::connection> conn_;
  std::chrono::steady_clock::time_point next_attempt_;
  std::chrono::milliseconds backoff_{100};
  int failures_ = 0;
};

} // namespace troupe
