// The metrics registry.
#include "observability/metrics.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <cstring>

#include <cmath>
#include <cstdio>
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

namespace troupe::metrics {

namespace {

constexpr std::array<double, 14> bounds{
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

struct histogram {
  std::array<uint64_t, bounds.size()> buckets{};
  uint64_t count = 0;
  double sum = 0;
};

struct registry {
  std::mutex mtx;
  std::map<std::string, std::pair<std::string, std::string>> meta; // type, help
  std::map<std::string, std::map<labels, double>> values;
  std::map<std::string, std::map<labels, histogram>> histograms;
};

registry& reg() {
  static registry r;
  return r;
}

std::string escape(const std::string& x) {
  std::string out;
  for (char c : x) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string render_labels(const labels& l, const std::string& extra = {}) {
  if (l.empty() && extra.empty())
    return {};
  std::string out = "{";
  bool first = true;
  for (auto& [k, v] : l) {
    if (!first)
      out += ',';
    first = false;
    out += k + "=\"" + escape(v) + "\"";
  }
  if (!extra.empty()) {
    if (!first)
      out += ',';
    out += extra;
  }
  return out + "}";
}

/// The shortest text that reads back as `x` ("0.1", not
/// "0.10000000000000001"): bucket labels are matched as strings.
std::string number(double x) {
  if (std::isinf(x))
    return x > 0 ? "+Inf" : "-Inf";
  if (std::isnan(x))
    return "NaN";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), x);
  return std::string(buf, res.ptr);
}

/// The process_* metrics every Prometheus client exports (Linux /proc).
void render_process(std::string& out) {
  long page = sysconf(_SC_PAGESIZE);
  long ticks = sysconf(_SC_CLK_TCK);
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) == 2) {
      out += "# HELP process_resident_memory_bytes Resident memory size in "
             "bytes.\n# TYPE process_resident_memory_bytes gauge\n"
             "process_resident_memory_bytes "
             + std::to_string(resident * page) + "\n";
      out += "# HELP process_virtual_memory_bytes Virtual memory size in "
             "bytes.\n# TYPE process_virtual_memory_bytes gauge\n"
             "process_virtual_memory_bytes "
             + std::to_string(size * page) + "\n";
    }
    std::fclose(f);
  }
  struct rusage ru {};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    auto secs = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
                + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    out += "# HELP process_cpu_seconds_total Total user and system CPU time "
           "spent in seconds.\n# TYPE process_cpu_seconds_total counter\n"
           "process_cpu_seconds_total "
           + number(secs) + "\n";
  }
  size_t fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (auto* e = readdir(d))
      if (e->d_name[0] != '.')
        ++fds;
    closedir(d);
    out += "# HELP process_open_fds Number of open file descriptors.\n"
           "# TYPE process_open_fds gauge\nprocess_open_fds "
           + std::to_string(fds > 0 ? fds - 1 : 0)
           + "\n"; // minus the DIR's own
  }
  if (FILE* f = std::fopen("/proc/self/stat", "r")) {
    // Field 22 (after the parenthesised command name) is the start time in
    // clock ticks since boot.
    char buf[1024];
    auto n = std::fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    std::fclose(f);
    double uptime = 0;
    if (FILE* u = std::fopen("/proc/uptime", "r")) {
      if (std::fscanf(u, "%lf", &uptime) != 1)
        uptime = 0;
      std::fclose(u);
    }
    if (auto* p = std::strrchr(buf, ')'); p != nullptr && uptime > 0) {
      unsigned long long start = 0;
      int field = 2;
      for (char* tok = std::strtok(p + 1, " "); tok != nullptr;
           tok = std::strtok(nullptr, " ")) {
        if (++field == 22) {
          start = std::strtoull(tok, nullptr, 10);
          break;
        }
      }
      auto now = std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
      auto started = now - uptime + static_cast<double>(start) / ticks;
      out += "# HELP process_start_time_seconds Start time of the process "
             "since unix epoch in seconds.\n# TYPE process_start_time_seconds "
             "gauge\nprocess_start_time_seconds "
             + number(std::floor(started)) + "\n";
    }
  }
}

} // namespace

void remove(const std::string& name, const labels& l) {
  std::lock_guard<std::mutex> guard{reg().mtx};
  if (auto i = reg().values.find(name); i != reg().values.end())
    i->second.erase(l);
}

void inc(const std::string& name, const labels& l, double n) {
  std::lock_guard<std::mutex> guard{reg().mtx};
  reg().values[name][l] += n;
}

void set(const std::string& name, const labels& l, double value) {
  std::lock_guard<std::mutex> guard{reg().mtx};
  reg().values[name][l] = value;
}

void add(const std::string& name, const labels& l, double n) {
  inc(name, l, n);
}

void observe(const std::string& name, const labels& l, double seconds) {
  std::lock_guard<std::mutex> guard{reg().mtx};
  auto& h = reg().histograms[name][l];
  for (size_t i = 0; i < bounds.size(); ++i)
    if (seconds <= bounds[i])
      ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

void describe(const std::string& name, const std::string& type,
              const std::string& help) {
  std::lock_guard<std::mutex> guard{reg().mtx};
  reg().meta[name] = {type, help};
}

std::string render() {
  std::lock_guard<std::mutex> guard{reg().mtx};
  auto& r = reg();
  std::string out;
  auto header = [&](const std::string& name, const char* fallback) {
    auto i = r.meta.find(name);
    if (i != r.meta.end())
      out += "# HELP " + name + " " + i->second.second + "\n# TYPE " + name
             + " " + i->second.first + "\n";
    else
      out += "# TYPE " + name + " " + fallback + "\n";
  };
  for (auto& [name, series] : r.values) {
    header(name, name.size() > 6 && name.substr(name.size() - 6) == "_total"
                   ? "counter"
                   : "gauge");
    for (auto& [l, v] : series)
      out += name + render_labels(l) + " " + number(v) + "\n";
  }
  for (auto& [name, series] : r.histograms) {
    header(name, "histogram");
    for (auto& [l, h] : series) {
      for (size_t i = 0; i < bounds.size(); ++i)
        out += name + "_bucket"
               + render_labels(l, "le=\"" + number(bounds[i]) + "\"") + " "
               + std::to_string(h.buckets[i]) + "\n";
      out += name + "_bucket" + render_labels(l, "le=\"+Inf\"") + " "
             + std::to_string(h.count) + "\n";
      out += name + "_sum" + render_labels(l) + " " + number(h.sum) + "\n";
      out += name + "_count" + render_labels(l) + " " + std::to_string(h.count)
             + "\n";
    }
  }
  out += "# HELP troupe_build_info The Troupe version this node runs.\n"
         "# TYPE troupe_build_info "
         "gauge\ntroupe_build_info{version=\"" TROUPE_VERSION "\"} 1\n";
  render_process(out);
  return out;
}

void reset() {
  std::lock_guard<std::mutex> guard{reg().mtx};
  reg().values.clear();
  reg().histograms.clear();
}

} // namespace troupe::metrics
