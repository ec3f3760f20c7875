// Schema migrations: the numbered files of migrations/, embedded in the
// binary at build time and applied in order at start, each in its own
// transaction and recorded in `schema_migrations`. Safe when several nodes
// start at once (an advisory lock serializes them).
#pragma once

#include <string>
#include <vector>

namespace troupe {

struct migration {
  int version;
  std::string name;
  std::string sql;
};

/// All migrations known to this build, in order.
const std::vector<migration>& embedded_migrations();

/// Applies what is missing; returns how many were applied. Throws on error.
int apply_migrations(const std::string& url);

/// Highest version applied in the database behind `url` (0 when none).
int applied_version(const std::string& url);

/// Highest version this build knows.
int latest_migration();

} // namespace troupe
