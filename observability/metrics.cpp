// The registry, the build info and the process metrics.
#include "observability/metrics.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "build_commit.hpp" // TROUPE_COMMIT, generated at every build

namespace troupe::metrics {

namespace {

#if defined(__clang__)
constexpr const char* compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
constexpr const char* compiler = "gcc " __VERSION__;
#else
constexpr const char* compiler = "unknown";
#endif

/// Declares troupe_build_info in `r`: one series, always 1, whose labels
/// say what this node runs.
void describe_build(prometheus::Registry& r) {
  prometheus::BuildGauge()
    .Name("troupe_build_info")
    .Help("The Troupe build this node runs: version, commit and compiler")
    .Register(r)
    .Add({{"version", TROUPE_VERSION},
          {"commit", TROUPE_COMMIT},
          {"compiler", compiler}})
    .Set(1);
}

prometheus::MetricFamily family(const char* name, const char* help,
                                prometheus::MetricType type, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  f.metric.push_back(std::move(m));
  return f;
}

/// Seconds since the epoch at which this process started: its start time in
/// clock ticks since boot (field 22 of /proc/self/stat) plus the boot time.
/// Negative when /proc cannot tell.
double start_time() {
  char buf[1024];
  size_t n = 0;
  if (FILE* f = std::fopen("/proc/self/stat", "r")) {
    n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
  }
  buf[n] = 0;
  double uptime = 0;
  if (FILE* u = std::fopen("/proc/uptime", "r")) {
    if (std::fscanf(u, "%lf", &uptime) != 1)
      uptime = 0;
    std::fclose(u);
  }
  // The command name (field 2) is in parentheses and may hold spaces.
  auto* p = std::strrchr(buf, ')');
  if (p == nullptr || uptime <= 0)
    return -1;
  char* save = nullptr;
  int field = 2;
  for (char* tok = strtok_r(p + 1, " ", &save); tok != nullptr;
       tok = strtok_r(nullptr, " ", &save)) {
    if (++field == 22) {
      auto ticks = static_cast<double>(std::strtoull(tok, nullptr, 10));
      auto now = std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
      return std::floor(now - uptime + ticks / sysconf(_SC_CLK_TCK));
    }
  }
  return -1;
}

/// The process_* metrics every Prometheus client library exports, read from
/// /proc/self now. A figure the system does not give is left out.
std::vector<prometheus::MetricFamily> process_metrics() {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  auto page = static_cast<double>(sysconf(_SC_PAGESIZE));
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0;
    unsigned long resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) == 2) {
      out.push_back(family("process_resident_memory_bytes",
                           "Resident memory size in bytes.", MetricType::Gauge,
                           resident * page));
      out.push_back(family("process_virtual_memory_bytes",
                           "Virtual memory size in bytes.", MetricType::Gauge,
                           size * page));
    }
    std::fclose(f);
  }
  struct rusage ru {};
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    out.push_back(family(
      "process_cpu_seconds_total",
      "Total user and system CPU time spent in seconds.", MetricType::Counter,
      static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
        + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6));
  if (DIR* d = opendir("/proc/self/fd")) {
    size_t fds = 0;
    while (auto* e = readdir(d))
      if (e->d_name[0] != '.')
        ++fds;
    closedir(d);
    // Less the one the listing itself held open.
    out.push_back(family("process_open_fds", "Number of open file descriptors.",
                         MetricType::Gauge,
                         static_cast<double>(fds > 0 ? fds - 1 : 0)));
  }
  struct rlimit lim {};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    out.push_back(family("process_max_fds",
                         "Maximum number of open file descriptors.",
                         MetricType::Gauge, static_cast<double>(lim.rlim_cur)));
  if (auto t = start_time(); t >= 0)
    out.push_back(
      family("process_start_time_seconds",
             "Start time of the process since unix epoch in seconds.",
             MetricType::Gauge, t));
  return out;
}

} // namespace

prometheus::Registry& registry() {
  static prometheus::Registry* r = [] {
    // Never destroyed: threads that outlive main's return (detached actors,
    // libmicrohttpd's) may still count into it.
    auto* x = new prometheus::Registry;
    describe_build(*x);
    return x;
  }();
  return *r;
}

const prometheus::Histogram::BucketBoundaries& duration_buckets() {
  // prometheus-cpp 1.0.1 writes a bound with 16 significant digits, which
  // gives back each of these short decimals exactly (the unit suite
  // `metrics` checks every `le`).
  static const prometheus::Histogram::BucketBoundaries bounds{
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
  return bounds;
}

std::string render() {
  auto families = registry().Collect();
  for (auto& f : process_metrics())
    families.push_back(std::move(f));
  std::ostringstream out;
  out.imbue(std::locale::classic());
  prometheus::TextSerializer{}.Serialize(out, families);
  return out.str();
}

} // namespace troupe::metrics
