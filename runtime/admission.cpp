// Admission control (see admission.hpp).
#include "runtime/admission.hpp"

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
  std::unique_lock<std::mutex> guard{mtx_};
  while (!stop_) {
    guard.unlock();
    // Orders admitted before the count started are in it (or final).
    auto before = admitted_.load();
    if (auto n = cfg_.count ? cfg_.count() : std::nullopt) {
      counted_ = *n;
      admitted_ -= before;
    } // else the last count stands
    guard.lock();
    cv_.wait_for(guard, cfg_.interval, [this] { return stop_; });
  }
}

} // namespace troupe
