// A shard held at a table lock, so that what is sent meanwhile is one batch
// (the integration suites of set-oriented group commit and fencing).
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include <caf/scoped_actor.hpp>
#include <pqxx/pqxx>

#include "actors/commands.hpp"

namespace troupe::test {

/// Holds a one-shard store's transaction at a table lock behind a first
/// command (whose answer goes to `first`), so that what is sent meanwhile
/// joins one batch, which runs once `open()` lets the lock go.
struct batch_gate {
  pqxx::connection conn;
  pqxx::work lock;

  batch_gate(const std::string& url, caf::scoped_actor& first,
             const node_store_actor& store, const std::string& order_id)
    : conn{url}, lock{conn} {
    lock.exec("LOCK TABLE processed_events IN EXCLUSIVE MODE");
    first->send(store, notify_cmd{status_changed{"ev-block", order_id, "corr",
                                                 order_status::confirmed}});
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  void open() {
    lock.commit();
  }
};

} // namespace troupe::test
