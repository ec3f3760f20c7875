// The metrics registry.
#include "observability/metrics.hpp"

#include <array>
#include <cmath>
#include <cstdio>

namespace troupe::metrics {

namespace {

constexpr std::array<double, 14> bounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1,    2.5,   5,    10,  30,
                                        60,    120};

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

std::string number(double x) {
  if (std::isinf(x))
    return "+Inf";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", x);
  return buf;
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
      out += name + "_count" + render_labels(l) + " "
             + std::to_string(h.count) + "\n";
    }
  }
  return out;
}

void reset() {
  std::lock_guard<std::mutex> guard{reg().mtx};
  reg().values.clear();
  reg().histograms.clear();
}

} // namespace troupe::metrics
