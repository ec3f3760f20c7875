// The retry schedule: exponential, capped, with bounded jitter.
#define CAF_SUITE backoff
#include "runtime/backoff.hpp"

#include <caf/test/unit_test.hpp>

using namespace troupe;
using namespace std::chrono_literals;

CAF_TEST(without jitter the delays double up to the cap) {
  retry_policy p;
  p.base = 100ms;
  p.factor = 2.0;
  p.cap = 1000ms;
  p.jitter = 0.2;
  // unit = 0.5 puts the jitter at its midpoint: no spread.
  CAF_CHECK_EQUAL(backoff_delay(p, 1, 0.5).count(), 100);
  CAF_CHECK_EQUAL(backoff_delay(p, 2, 0.5).count(), 200);
  CAF_CHECK_EQUAL(backoff_delay(p, 3, 0.5).count(), 400);
  CAF_CHECK_EQUAL(backoff_delay(p, 4, 0.5).count(), 800);
  CAF_CHECK_EQUAL(backoff_delay(p, 5, 0.5).count(), 1000);
  CAF_CHECK_EQUAL(backoff_delay(p, 30, 0.5).count(), 1000);
}

CAF_TEST(jitter stays within its bounds and under the cap) {
  retry_policy p;
  p.base = 100ms;
  p.cap = 1000ms;
  p.jitter = 0.2;
  CAF_CHECK_EQUAL(backoff_delay(p, 1, 0.0).count(), 80);
  CAF_CHECK_EQUAL(backoff_delay(p, 1, 0.999999).count(), 120);
  for (double u = 0; u < 1.0; u += 0.01) {
    auto d = backoff_delay(p, 3, u).count();
    CAF_CHECK(d >= 320 && d <= 480);
    CAF_CHECK(backoff_delay(p, 10, u).count() <= 1000);
  }
}
