// The Prometheus text of /metrics as scrapers read it: bucket bounds in
// their shortest form, the build info, the process metrics.
#define CAF_SUITE metrics
#include "observability/metrics.hpp"

#include <string>

#include <caf/test/unit_test.hpp>

using namespace troupe;

CAF_TEST(bucket bounds are written in their shortest form) {
  metrics::reset();
  metrics::observe("test_latency_seconds", {{"route", "/x"}}, 0.07);
  auto text = metrics::render();
  CAF_CHECK(text.find("test_latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 1")
            != std::string::npos);
  CAF_CHECK(text.find("0.10000000000000001") == std::string::npos);
  CAF_CHECK(text.find("le=\"+Inf\"} 1") != std::string::npos);
  metrics::reset();
}

CAF_TEST(the build and the process are described) {
  auto text = metrics::render();
  std::string missing;
  for (auto name :
       {"troupe_build_info{version=", "process_resident_memory_bytes ",
        "process_cpu_seconds_total ", "process_open_fds ",
        "process_start_time_seconds "})
    if (text.find(name) == std::string::npos)
      missing += name;
  CAF_CHECK_EQUAL(missing, "");
}
