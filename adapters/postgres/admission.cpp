// Admission control (see admission.hpp).
#include "adapters/postgres/admission.hpp"

#include <pqxx/pqxx>

#include "adapters/postgres/connection.hpp"

namespace troupe {

admission_gate::admission_gate(settings cfg) : cfg_(std::move(cfg)) {
  if (cfg_.max_in_flight > 0)
    sampler_ = std::thread{[this] { run(); }};
}

admission_gate::~admission_gate() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stop_ = true;
  }
  cv_.notify_all();
  if (sampler_.joinable())
    sampler_.join();
}

bool admission_gate::admit() {
  if (cfg_.max_in_flight <= 0)
    return true;
  if (in_flight() >= cfg_.max_in_flight)
    return false;
  ++admitted_;
  return true;
}

void admission_gate::run() {
  pg_connection conn{cfg_.pg_url, "admission"};
  std::unique_lock<std::mutex> guard{mtx_};
  while (!stop_) {
    guard.unlock();
    if (auto* c = conn.get()) {
      try {
        // Orders admitted before the count started are in it (or final).
        auto before = admitted_.load();
        pqxx::read_transaction tx{*c};
        auto n = tx.exec1("SELECT count(*) FROM orders WHERE status = 'NEW'")[0]
                   .as<int64_t>();
        counted_ = n;
        admitted_ -= before;
      } catch (const std::exception&) {
        conn.reset(); // the last count stands; reconnects with backoff
      }
    }
    guard.lock();
    cv_.wait_for(guard, cfg_.interval, [this] { return stop_; });
  }
}

} // namespace troupe
