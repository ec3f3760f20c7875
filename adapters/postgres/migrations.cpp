// Applies the embedded migrations.
#include "adapters/postgres/migrations.hpp"

#include <pqxx/pqxx>

#include "observability/log.hpp"

namespace troupe {

namespace {

constexpr long long migration_lock = 7277277;

} // namespace

int latest_migration() {
  auto& all = embedded_migrations();
  return all.empty() ? 0 : all.back().version;
}

int apply_migrations(const std::string& url) {
  pqxx::connection conn{url};
  {
    // Nodes starting together serialize on the advisory lock.
    pqxx::work tx{conn};
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(migration_lock)
            + ")");
    tx.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())");
    tx.commit();
  }
  int applied = 0;
  for (auto& m : embedded_migrations()) {
    pqxx::work tx{conn};
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(migration_lock)
            + ")");
    auto done = tx.exec("SELECT 1 FROM schema_migrations WHERE version = "
                        + std::to_string(m.version));
    if (!done.empty())
      continue;
    tx.exec(m.sql);
    tx.exec("INSERT INTO schema_migrations (version, name) VALUES ("
            + std::to_string(m.version) + ", " + tx.quote(m.name) + ")");
    tx.commit();
    log::info("postgres", "applied migration {}", m.name);
    ++applied;
  }
  return applied;
}

int applied_version(const std::string& url) {
  pqxx::connection conn{url};
  pqxx::read_transaction tx{conn};
  if (tx.exec("SELECT to_regclass('schema_migrations')")[0][0].is_null())
    return 0;
  auto r = tx.exec("SELECT COALESCE(max(version), 0) FROM schema_migrations");
  return r[0][0].as<int>();
}

} // namespace troupe
