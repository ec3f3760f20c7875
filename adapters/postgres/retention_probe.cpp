// Retention's metric families.
#include "adapters/postgres/retention_probe.hpp"

#include <prometheus/counter.h>

#include "adapters/postgres/retention.hpp"
#include "observability/metrics.hpp"

namespace troupe {

struct retention_probe::families {
  prometheus::Family<prometheus::Counter>& deleted_family;
  metrics::series_cache<prometheus::Counter, retention_tables.size()> deleted;

  explicit families(prometheus::Registry& r)
    : deleted_family(prometheus::BuildCounter()
                       .Name("troupe_retention_deleted_rows_total")
                       .Help("Rows deleted by retention, by table")
                       .Register(r)),
      deleted(deleted_family) {
  }
};

retention_probe::retention_probe()
  : f_([]() {
      static families f{metrics::registry()};
      return &f;
    }()) {
}

void retention_probe::deleted(retention_table table, int64_t rows) {
  f_->deleted
    .at(static_cast<size_t>(table),
        [&]() -> prometheus::Labels {
          return {{"table", to_string(table)}};
        })
    .Increment(static_cast<double>(rows));
}

} // namespace troupe
