// Exponential backoff with jitter.
#include "backoff.hpp"

#include <algorithm>
#include <cmath>

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

} // namespace troupe
