// Exponential backoff with jitter for retried work.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace troupe {

struct retry_policy {
  std::chrono::milliseconds base{100};  ///< delay before the first retry
  double factor = 2.0;                  ///< growth per attempt
  std::chrono::milliseconds cap{10000}; ///< upper bound of one delay
  int32_t max_attempts = 5; ///< attempts in all, the first one included
  double jitter = 0.2;      ///< +/- fraction applied to each delay
};

/// Delay before retry number `retry` (1 = the first retry), given a uniform
/// random number `unit` in [0, 1). Deterministic for a given `unit`.
std::chrono::milliseconds backoff_delay(const retry_policy& policy,
                                        int32_t retry, double unit);

/// A source of uniform random numbers in [0, 1) for jitter, seeded from
/// the system; each returned function has its own generator.
std::function<double()> jitter_source();

} // namespace troupe
