// The HTTP adapter's metric families.
#include "adapters/http/http_probe.hpp"

#include <map>
#include <mutex>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "observability/metrics.hpp"

namespace troupe {

const char* to_string(connection_cut x) {
  switch (x) {
    case connection_cut::read_timeout:
      return "read_timeout";
    case connection_cut::idle_timeout:
      return "idle_timeout";
  }
  return "unknown";
}

struct http_probe::families {
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& latency_family;
  prometheus::Family<prometheus::Counter>& unauthorized;
  prometheus::Gauge& connections;
  prometheus::Family<prometheus::Counter>& closed_family;
  metrics::series_cache<prometheus::Counter, 2> closed;
  prometheus::Gauge& backlog;
  prometheus::Gauge& oldest_age;

  /// The latency series by method and route. Family::Add builds a histogram
  /// before it looks for the labels, so the series are looked up here.
  std::mutex latency_mtx;
  std::map<std::pair<std::string, std::string>, prometheus::Histogram*> latency;

  explicit families(prometheus::Registry& r)
    : requests(prometheus::BuildCounter()
                 .Name("troupe_http_requests_total")
                 .Help("HTTP requests by method, route and status code")
                 .Register(r)),
      latency_family(prometheus::BuildHistogram()
                       .Name("troupe_http_request_duration_seconds")
                       .Help("HTTP request latency by method and route")
                       .Register(r)),
      unauthorized(prometheus::BuildCounter()
                     .Name("troupe_http_unauthorized_total")
                     .Help("HTTP requests refused with 401 (missing or wrong "
                           "bearer token), by route")
                     .Register(r)),
      connections(prometheus::BuildGauge()
                    .Name("troupe_http_connections")
                    .Help("Open HTTP connections")
                    .Register(r)
                    .Add({})),
      closed_family(prometheus::BuildCounter()
                      .Name("troupe_http_connections_closed_total")
                      .Help("HTTP connections closed by the node for a missed "
                            "deadline (read_timeout: request not complete in "
                            "time; idle_timeout)")
                      .Register(r)),
      closed(closed_family),
      backlog(prometheus::BuildGauge()
                .Name("troupe_outbox_backlog")
                .Help("Unpublished outbox rows")
                .Register(r)
                .Add({})),
      oldest_age(prometheus::BuildGauge()
                   .Name("troupe_outbox_oldest_age_seconds")
                   .Help("Age of the oldest unpublished outbox row")
                   .Register(r)
                   .Add({})) {
  }

  prometheus::Histogram& latency_of(const std::string& method,
                                    const std::string& route) {
    std::lock_guard<std::mutex> guard{latency_mtx};
    auto key = std::make_pair(method, route);
    auto i = latency.find(key);
    if (i == latency.end())
      i = latency
            .emplace(key,
                     &latency_family.Add({{"method", method}, {"route", route}},
                                         metrics::duration_buckets()))
            .first;
    return *i->second;
  }
};

http_probe::http_probe()
  : f_([]() {
      static families f{metrics::registry()};
      return &f;
    }()) {
}

void http_probe::request(const std::string& method, const std::string& route,
                         int code, double seconds) {
  f_->requests
    .Add({{"method", method}, {"route", route}, {"code", std::to_string(code)}})
    .Increment();
  f_->latency_of(method, route).Observe(seconds);
}

void http_probe::unauthorized(const std::string& route) {
  f_->unauthorized.Add({{"route", route}}).Increment();
}

void http_probe::connections(int64_t open) {
  f_->connections.Set(static_cast<double>(open));
}

void http_probe::connections_closed(connection_cut why, int64_t n) {
  f_->closed
    .at(static_cast<size_t>(why),
        [&]() -> prometheus::Labels {
          return {{"reason", to_string(why)}};
        })
    .Increment(static_cast<double>(n));
}

void http_probe::outbox_backlog(int64_t rows, double oldest_age_seconds) {
  f_->backlog.Set(static_cast<double>(rows));
  f_->oldest_age.Set(oldest_age_seconds);
}

} // namespace troupe
