// Migrations against a real PostgreSQL: an empty database gets every
// migration, an up-to-date one gets none.
#define CAF_SUITE migrations
#include "adapters/postgres/migrations.hpp"

#include <caf/test/unit_test.hpp>

#include "tests/integration/environment.hpp"

using namespace troupe;
using namespace troupe::test;

CAF_TEST(an empty database gets every migration in order) {
  auto url = fresh_database("it_migrations_empty");
  CAF_CHECK_EQUAL(applied_version(url), 0);
  auto n = apply_migrations(url);
  CAF_CHECK_EQUAL(static_cast<size_t>(n), embedded_migrations().size());
  CAF_CHECK_EQUAL(applied_version(url), latest_migration());
  auto versions = query_column(url, "SELECT version FROM schema_migrations "
                                    "ORDER BY applied_at, version");
  CAF_REQUIRE_EQUAL(versions.size(), embedded_migrations().size());
  for (size_t i = 0; i < versions.size(); ++i)
    CAF_CHECK_EQUAL(std::stoi(versions[i]), embedded_migrations()[i].version);
  auto tables = query_column(url, "SELECT table_name FROM information_schema."
                                  "tables WHERE table_schema = 'public' "
                                  "ORDER BY 1");
  for (auto t : {"orders", "order_timeline", "outbox", "processed_events",
                 "payments", "stock", "reservations", "notifications",
                 "dead_letters", "schema_migrations", "order_lines"})
    CAF_CHECK(std::find(tables.begin(), tables.end(), t) != tables.end());
}

CAF_TEST(an up to date database gets nothing and keeps its data) {
  auto url = fresh_database("it_migrations_again");
  apply_migrations(url);
  query_column(url, "INSERT INTO stock (sku, available) VALUES ('SKU-X', 7) "
                    "RETURNING sku");
  CAF_CHECK_EQUAL(apply_migrations(url), 0);
  CAF_CHECK_EQUAL(applied_version(url), latest_migration());
  auto stock = query_column(url, "SELECT available FROM stock");
  CAF_REQUIRE_EQUAL(stock.size(), 1u);
  CAF_CHECK_EQUAL(stock[0], "7");
}
