// The Kafka consumer's metric families.
#include "adapters/kafka/consumer_probe.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "observability/metrics.hpp"

namespace troupe {

struct consumer_probe::families {
  prometheus::Family<prometheus::Counter>& consumed;
  prometheus::Family<prometheus::Gauge>& lag;

  explicit families(prometheus::Registry& r)
    : consumed(prometheus::BuildCounter()
                 .Name("troupe_events_consumed_total")
                 .Help("Kafka messages consumed, by consumer group and topic")
                 .Register(r)),
      lag(prometheus::BuildGauge()
            .Name("troupe_consumer_lag")
            .Help("Messages of a partition not yet done by this node's "
                  "consumer (high watermark minus committable offset)")
            .Register(r)) {
  }
};

consumer_probe::consumer_probe(std::string group)
  : f_([]() {
      static families f{metrics::registry()};
      return &f;
    }()),
    group_(std::move(group)) {
}

void consumer_probe::consumed(const std::string& topic) {
  auto i = consumed_.find(topic);
  if (i == consumed_.end())
    i = consumed_
          .emplace(topic,
                   &f_->consumed.Add({{"group", group_}, {"topic", topic}}))
          .first;
  i->second->Increment();
}

// The lag series are not kept: a partition's series is removed when it is
// revoked, and a consumer of the same group started after this one (the
// supervisor's restart) may hold it by then.
void consumer_probe::lag(const std::string& topic, int32_t partition,
                         int64_t messages) {
  f_->lag
    .Add({{"group", group_},
          {"topic", topic},
          {"partition", std::to_string(partition)}})
    .Set(static_cast<double>(messages));
}

void consumer_probe::forget_lag(const std::string& topic, int32_t partition) {
  prometheus::Labels labels{{"group", group_},
                            {"topic", topic},
                            {"partition", std::to_string(partition)}};
  if (f_->lag.Has(labels))
    f_->lag.Remove(&f_->lag.Add(labels));
}

} // namespace troupe
