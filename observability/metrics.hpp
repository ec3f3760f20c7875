// Process-wide metrics in the Prometheus text format: counters, gauges and
// histograms with labels. Thread-safe (one mutex; increments are cheap
// compared to the work they count). Names follow Prometheus conventions:
// `troupe_..._total` for counters, `_seconds` for durations.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace troupe::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

/// Adds `n` to a counter.
void inc(const std::string& name, const labels& l = {}, double n = 1);

/// Sets a gauge.
void set(const std::string& name, const labels& l, double value);

/// Drops one series of a gauge (e.g. a partition no longer assigned).
void remove(const std::string& name, const labels& l);

/// Adds `n` to a gauge (may be negative).
void add(const std::string& name, const labels& l, double n);

/// Records one observation (seconds) in a histogram.
void observe(const std::string& name, const labels& l, double seconds);

/// Declares the help text and type of a metric family.
void describe(const std::string& name, const std::string& type,
              const std::string& help);

/// The registry in the Prometheus text exposition format.
std::string render();

/// Forgets everything (tests).
void reset();

} // namespace troupe::metrics
