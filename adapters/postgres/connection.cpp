// The shared PostgreSQL connection helper (see connection.hpp).
#include "adapters/postgres/connection.hpp"

#include <algorithm>

#include <pqxx/pqxx>

#include "observability/log.hpp"

namespace troupe {

std::unique_ptr<pqxx::connection> pg_connect(const std::string& url,
                                             const std::string& who) {
  auto conn = std::make_unique<pqxx::connection>(url);
  pqxx::nontransaction tx{*conn};
  tx.exec("SET application_name = " + tx.quote("troupe-" + who));
  return conn;
}

pg_connection::pg_connection(std::string url, std::string who, hook setup,
                             hook teardown)
  : url_(std::move(url)),
    who_(std::move(who)),
    setup_(std::move(setup)),
    teardown_(std::move(teardown)) {
}

pg_connection::~pg_connection() {
  reset();
}

pqxx::connection& pg_connection::connect() {
  try {
    auto conn = pg_connect(url_, who_);
    if (setup_)
      setup_(*conn);
    conn_ = std::move(conn);
  } catch (const std::exception& e) {
    conn_.reset();
    next_attempt_ = std::chrono::steady_clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds{2000});
    // Loud at first, then every 30th attempt: an outage is not a log storm.
    if (failures_++ % 30 == 0)
      log::warn("postgres", "{} cannot connect (attempt {}): {}", who_,
                failures_, e.what());
    throw;
  }
  if (failures_ > 0)
    log::info("postgres", "{} connected after {} failed attempt(s)", who_,
              failures_);
  else
    log::info("postgres", "{} connected", who_);
  failures_ = 0;
  backoff_ = std::chrono::milliseconds{100};
  return *conn_;
}

pqxx::connection* pg_connection::get() {
  if (is_open())
    return conn_.get();
  if (std::chrono::steady_clock::now() < next_attempt_)
    return nullptr;
  try {
    return &connect();
  } catch (const std::exception&) {
    return nullptr;
  }
}

pqxx::connection& pg_connection::open() {
  if (is_open())
    return *conn_;
  return connect();
}

void pg_connection::reset() {
  if (conn_ && teardown_) {
    try {
      teardown_(*conn_);
    } catch (const std::exception&) {
      // Closing anyway.
    }
  }
  conn_.reset();
}

bool pg_connection::is_open() const {
  return conn_ && conn_->is_open();
}

} // namespace troupe
