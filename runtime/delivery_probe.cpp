// The delivery runtime's metric families.
#include "runtime/delivery_probe.hpp"

#include <utility>

#include <prometheus/counter.h>

#include "observability/metrics.hpp"

namespace troupe {

using counters = prometheus::Family<prometheus::Counter>;

struct delivery_probe::families {
  counters& retried;
  counters& dead_lettered;
  counters& direct;
  counters& dropped;

  explicit families(prometheus::Registry& r)
    : retried(prometheus::BuildCounter()
                .Name("troupe_events_retried_total")
                .Help("Retries of failed work, by consumer group and topic")
                .Register(r)),
      dead_lettered(
        prometheus::BuildCounter()
          .Name("troupe_events_dead_lettered_total")
          .Help("Messages routed to dead-letter topics, by group and topic")
          .Register(r)),
      direct(prometheus::BuildCounter()
               .Name("troupe_dead_letters_direct_total")
               .Help("Dead letters sent straight to Kafka because the store "
                     "refused them, by consumer group and topic")
               .Register(r)),
      dropped(prometheus::BuildCounter()
                .Name("troupe_dead_letters_dropped_total")
                .Help("Dead letters neither stored nor sent to Kafka "
                      "(logged), by group and topic")
                .Register(r)) {
  }
};

delivery_probe::delivery_probe(std::string group)
  : f_([]() {
      static families f{metrics::registry()};
      return &f;
    }()),
    group_(std::move(group)) {
}

void delivery_probe::retried(const std::string& topic) {
  f_->retried.Add({{"group", group_}, {"topic", topic}}).Increment();
}

void delivery_probe::dead_lettered(const std::string& topic) {
  f_->dead_lettered.Add({{"group", group_}, {"topic", topic}}).Increment();
}

void delivery_probe::dead_letter_direct(const std::string& topic) {
  f_->direct.Add({{"group", group_}, {"topic", topic}}).Increment();
}

void delivery_probe::dead_letter_dropped(const std::string& topic) {
  f_->dropped.Add({{"group", group_}, {"topic", topic}}).Increment();
}

} // namespace troupe
