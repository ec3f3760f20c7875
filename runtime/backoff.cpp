// Exponential backoff with jitter.
#include "runtime/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace troupe {

std::chrono::milliseconds backoff_delay(const retry_policy& policy,
                                        int32_t retry, double unit) {
  auto base = static_cast<double>(policy.base.count());
  auto cap = static_cast<double>(policy.cap.count());
  auto raw = base * std::pow(policy.factor, std::max(0, retry - 1));
  auto capped = std::min(raw, cap);
  auto spread = capped * policy.jitter * (2.0 * unit - 1.0);
  auto result = std::clamp(capped + spread, 0.0, cap);
  return std::chrono::milliseconds{static_cast<int64_t>(std::llround(result))};
}

std::function<double()> jitter_source() {
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [rng] {
    return std::uniform_real_distribution<double>{0.0, 1.0}(*rng);
  };
}

} // namespace troupe
