// Process-wide metrics: one prometheus::Registry that every module's probe
// registers its families in, and the Prometheus text of it for /metrics.
//
// A metric is declared once, in the probe of the module that counts it
// (actors/saga_probe, runtime/delivery_probe, adapters/*/..._probe): its
// name, help text, type and label names live there and nowhere else. Call
// sites say what happened (`probe.finalized(status, reason)`), never a name.
// This file adds what every scrape carries besides: troupe_build_info and the
// process_* metrics, read from /proc/self at scrape time.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <string>

#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace troupe::metrics {

/// The registry of this process. Families registered here stay for the
/// life of the process (probes keep references to them).
prometheus::Registry& registry();

/// The buckets (seconds) of every duration histogram. Each bound is a short
/// decimal, so its `le` label is too ("0.1", not "0.10000000000000001").
const prometheus::Histogram::BucketBoundaries& duration_buckets();

/// The content type of `render()`'s text.
inline constexpr const char* content_type
  = "text/plain; version=0.0.4; charset=utf-8";

/// The registry, troupe_build_info and the process_* metrics in the
/// Prometheus text exposition format (version 0.0.4).
std::string render();

/// The series of a family for each of `N` fixed label sets (one per value of
/// a small enum, say), added on first use and reached afterwards without a
/// lookup. Thread-safe: Family::Add returns the series already there, so two
/// threads racing on a first use get the same one.
template <class T, size_t N>
class series_cache {
public:
  explicit series_cache(prometheus::Family<T>& family) : family_(family) {
  }

  /// The series at `i`; `labels()` gives its label set on first use.
  template <class Labels>
  T& at(size_t i, Labels&& labels) {
    auto* x = series_[i].load(std::memory_order_acquire);
    if (x == nullptr) {
      x = &family_.Add(labels());
      series_[i].store(x, std::memory_order_release);
    }
    return *x;
  }

private:
  prometheus::Family<T>& family_;
  std::array<std::atomic<T*>, N> series_{};
};

} // namespace troupe::metrics
