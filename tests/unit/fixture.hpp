// Shared fixture of the deterministic suites: the test coordinator, simulated
// time, and the in-memory store (sim/memory_store.hpp) behind the storage
// port, on the coordinator's clock.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "base/errors.hpp"
#include "sim/memory_store.hpp"

namespace troupe::test {

template <class Base>
struct store_fixture : Base {
  std::shared_ptr<sim::memory_db> db = std::make_shared<sim::memory_db>();
  store_actor store;

  store_fixture() {
    // Deadlines run on simulated time, like `clock_timestamp()` on real time.
    auto* clock = &this->sched.clock();
    db->clock = [clock] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
               clock->now().time_since_epoch())
        .count();
    };
    store = sim::spawn_memory_store(this->sys, db);
  }

  /// Runs all pending messages, without firing any timer.
  void drain() {
    this->sched.run();
  }

  /// Moves simulated time forward and lets the fired timers' work run.
  void advance(std::chrono::milliseconds d) {
    this->sched.advance_time(d);
    this->sched.run();
  }

  /// Sends `msg` as a request from the test and returns the reply.
  template <class Handle, class T>
  caf::expected<write_outcome> ask(const Handle& dest, T msg) {
    auto rh = this->self->request(dest, caf::infinite, std::move(msg));
    drain();
    caf::expected<write_outcome> result{caf::error{}};
    rh.receive([&](write_outcome x) { result = x; },
               [&](caf::error& e) { result = std::move(e); });
    return result;
  }
};

inline payment_result payment(const std::string& order, bool approved,
                              std::string event = "") {
  if (event.empty())
    event = "pay-" + order;
  return payment_result{event, order, "corr-" + order, approved,
                        approved ? cancel_reason::none
                                 : cancel_reason::payment_declined};
}

inline inventory_result inventory(const std::string& order, bool reserved,
                                  cancel_reason why = cancel_reason::none,
                                  std::string event = "") {
  if (event.empty())
    event = "inv-" + order;
  if (!reserved && why == cancel_reason::none)
    why = cancel_reason::out_of_stock;
  return inventory_result{event, order, "corr-" + order, reserved,
                          reserved ? cancel_reason::none : why};
}

/// The `order.cancel.requested` event of `order`.
inline cancel_requested cancel(const std::string& order,
                               std::string event = "") {
  if (event.empty())
    event = "cancel-" + order;
  return cancel_requested{event, order, "corr-" + order};
}

} // namespace troupe::test
