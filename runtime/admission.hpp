// Admission control: how many orders are in flight, and whether one more
// may enter (POST /orders, the intake role).
//
// In flight means open: status NEW, across the cluster, since every node
// shares the database. A thread of the gate's own counts them every
// `interval` through `count`, the store's port (PostgreSQL: an index-only
// count over the partial index of open orders, adapters/postgres/admission;
// the in-memory database: adapters/memory); between two counts the gate adds
// the orders this node admitted. `admit()` never waits on the database, so
// a refusal costs microseconds: beyond the bound, new orders are refused at
// once (503 with Retry-After, or the intake consumer pauses) instead of
// queueing behind the ones in flight. While the database cannot be reached
// (`count` answers nothing) the last count stands (orders cannot be created
// then anyway).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace troupe {

class admission_gate {
public:
  /// The open orders now; nothing when the database cannot answer. Runs
  /// on the gate's thread only.
  using counter = std::function<std::optional<int64_t>()>;

  struct settings {
    counter count;
    int64_t max_in_flight = 0; ///< 0: no bound
    std::chrono::milliseconds interval{50};
  };

  explicit admission_gate(settings cfg);
  ~admission_gate();

  admission_gate(const admission_gate&) = delete;
  admission_gate& operator=(const admission_gate&) = delete;

  /// Whether one more order may enter; counts it in when it may.
  bool admit();

  /// Orders in flight as last counted, plus those admitted since.
  int64_t in_flight() const {
    return counted_.load() + admitted_.load();
  }

  int64_t limit() const {
    return cfg_.max_in_flight;
  }

private:
  void run();

  settings cfg_;
  std::atomic<int64_t> counted_{0};
  std::atomic<int64_t> admitted_{0};
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread sampler_;
};

} // namespace troupe
