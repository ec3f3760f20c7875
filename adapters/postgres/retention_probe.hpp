// Retention's metrics: rows deleted, by table. Declared here once;
// retention.cpp says what happened.
#pragma once

#include <cstdint>

namespace troupe {

enum class retention_table : uint8_t; // retention.hpp

/// What retention counts. Any number may exist; they share the process-wide
/// series, one per table, reached without a lookup.
class retention_probe {
public:
  retention_probe();

  /// `rows` rows of `table` deleted.
  void deleted(retention_table table, int64_t rows);

  struct families;

private:
  families* f_;
};

} // namespace troupe
