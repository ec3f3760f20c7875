// The saga's metric families.
#include "actors/saga_probe.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "observability/metrics.hpp"

namespace troupe {

namespace {

constexpr size_t statuses = static_cast<size_t>(order_status::cancelled) + 1;
constexpr size_t reasons = static_cast<size_t>(last_cancel_reason) + 1;

} // namespace

struct saga_probe::families {
  prometheus::Counter& created;
  prometheus::Family<prometheus::Counter>& finalized_family;
  metrics::series_cache<prometheus::Counter, statuses * reasons> finalized;
  prometheus::Histogram& duration;
  prometheus::Gauge& live;
  prometheus::Counter& passivated;
  prometheus::Family<prometheus::Counter>& shed_family;
  prometheus::Counter& shed_http;
  prometheus::Counter& shed_intake;

  explicit families(prometheus::Registry& r)
    : created(prometheus::BuildCounter()
                .Name("troupe_orders_created_total")
                .Help("Orders created, over HTTP or from the intake topic")
                .Register(r)
                .Add({})),
      finalized_family(
        prometheus::BuildCounter()
          .Name("troupe_orders_finalized_total")
          .Help("Orders that reached a final status, by status and reason")
          .Register(r)),
      finalized(finalized_family),
      duration(prometheus::BuildHistogram()
                 .Name("troupe_order_duration_seconds")
                 .Help("Time from an order's creation to its final status")
                 .Register(r)
                 .Add({}, metrics::duration_buckets())),
      live(prometheus::BuildGauge()
             .Name("troupe_live_orchestrators")
             .Help("Orchestrator actors alive on this node")
             .Register(r)
             .Add({})),
      passivated(prometheus::BuildCounter()
                   .Name("troupe_orchestrators_passivated_total")
                   .Help("Idle orchestrators stopped while their sagas stay "
                         "open (saga.passivate-after)")
                   .Register(r)
                   .Add({})),
      shed_family(prometheus::BuildCounter()
                    .Name("troupe_orders_shed_total")
                    .Help("New orders refused because saga.max-in-flight "
                          "orders were in flight, by source")
                    .Register(r)),
      shed_http(shed_family.Add({{"source", "http"}})),
      shed_intake(shed_family.Add({{"source", "intake"}})) {
  }
};

saga_probe::saga_probe()
  : f_([]() {
      static families f{metrics::registry()};
      return &f;
    }()) {
}

void saga_probe::created() {
  f_->created.Increment();
}

void saga_probe::shed(source from) {
  (from == source::http ? f_->shed_http : f_->shed_intake).Increment();
}

void saga_probe::finalized(order_status status, cancel_reason reason) {
  auto i = static_cast<size_t>(status) * reasons + static_cast<size_t>(reason);
  f_->finalized
    .at(i,
        [&]() -> prometheus::Labels {
          return {{"status", to_string(status)},
                  {"reason",
                   reason == cancel_reason::none ? "none" : to_string(reason)}};
        })
    .Increment();
}

void saga_probe::duration(double seconds) {
  f_->duration.Observe(seconds);
}

void saga_probe::live_orchestrators(size_t n) {
  f_->live.Set(static_cast<double>(n));
}

void saga_probe::passivated(size_t n) {
  f_->passivated.Increment(static_cast<double>(n));
}

} // namespace troupe
