// The outbox relay's metric families.
#include "adapters/outbox/outbox_probe.hpp"

#include <prometheus/counter.h>

#include "observability/metrics.hpp"

namespace troupe {

struct outbox_probe::families {
  prometheus::Family<prometheus::Counter>& produced;
  prometheus::Family<prometheus::Counter>& set_aside;

  explicit families(prometheus::Registry& r)
    : produced(prometheus::BuildCounter()
                 .Name("troupe_events_produced_total")
                 .Help("Outbox rows published to Kafka, by topic")
                 .Register(r)),
      set_aside(prometheus::BuildCounter()
                  .Name("troupe_outbox_set_aside_total")
                  .Help("Outbox rows set aside after their publish budget, "
                        "by topic")
                  .Register(r)) {
  }
};

outbox_probe::outbox_probe()
  : f_([]() {
      static families f{metrics::registry()};
      return &f;
    }()) {
}

void outbox_probe::produced(const std::string& topic, double rows) {
  f_->produced.Add({{"topic", topic}}).Increment(rows);
}

void outbox_probe::set_aside(const std::string& topic) {
  f_->set_aside.Add({{"topic", topic}}).Increment();
}

} // namespace troupe
