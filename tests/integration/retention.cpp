// Retention against a real PostgreSQL: old rows go in bounded batches, young
// rows and the timeline of open or recently finished orders stay, published
// outbox rows go but unpublished ones never do, and only one node at a time
// holds the retention lock.
#define CAF_SUITE retention
#include "adapters/postgres/retention.hpp"

#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "adapters/postgres/migrations.hpp"
#include "observability/metrics.hpp"
#include "tests/integration/environment.hpp"
#include "tests/unit/metrics_text.hpp"

using namespace troupe;
using namespace troupe::test;
using namespace std::chrono_literals;

namespace {

void exec(const std::string& url, const std::string& sql) {
  pqxx::connection conn{url};
  pqxx::work tx{conn};
  tx.exec(sql);
  tx.commit();
}

int64_t count(const std::string& url, const std::string& sql) {
  return std::stoll(query_column(url, sql).at(0));
}

/// An order; `final_ago` empty: still open.
void order(const std::string& url, const std::string& id,
           const std::string& final_ago) {
  exec(url, "INSERT INTO orders (id, customer_email, item_sku, quantity, "
            "amount_cents, correlation_id, deadline_at, status, finalized_at) "
            "VALUES ('"
              + id
              + "', 'c@example.com', 'SKU', 1, 1, 'corr', "
                "now() - interval '40 days', "
              + (final_ago.empty()
                   ? std::string{"'NEW', NULL"}
                   : "'CONFIRMED', now() - interval '" + final_ago + "'")
              + ")");
}

void timeline(const std::string& url, const std::string& id,
              const std::string& ago, int rows) {
  exec(url, "INSERT INTO order_timeline (order_id, kind, at) SELECT '" + id
              + "', 'k', now() - interval '" + ago
              + "' FROM generate_series(1, " + std::to_string(rows) + ")");
}

const std::string open_id = "00000000-0000-0000-0000-000000000001";
const std::string old_id = "00000000-0000-0000-0000-000000000002";
const std::string young_id = "00000000-0000-0000-0000-000000000003";

/// 25 old and 5 young rows in every table; timelines of an open order (old),
/// an order final for 40 days and one final for 1 day.
std::string seeded_database(const std::string& name) {
  auto url = fresh_database(name);
  apply_migrations(url);
  exec(url, "INSERT INTO processed_events (consumer, event_id, processed_at) "
            "SELECT 'payment', 'old-' || i, now() - interval '8 days' "
            "FROM generate_series(1, 25) i");
  exec(url, "INSERT INTO processed_events (consumer, event_id, processed_at) "
            "SELECT 'payment', 'young-' || i, now() - interval '6 days' "
            "FROM generate_series(1, 5) i");
  order(url, open_id, "");
  order(url, old_id, "40 days");
  order(url, young_id, "1 day");
  timeline(url, open_id, "40 days", 4);
  timeline(url, old_id, "40 days", 25);
  timeline(url, young_id, "1 day", 5);
  exec(url, "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, "
            "payload, error, attempts, first_failure, last_failure, consumer, "
            "created_at) SELECT 't', 0, i, 'p', 'e', 1, now(), now(), 'c', "
            "now() - CASE WHEN i <= 25 THEN interval '31 days' ELSE "
            "interval '29 days' END FROM generate_series(1, 30) i");
  exec(url, "INSERT INTO outbox (topic, key, payload, created_at, "
            "published_at) SELECT 't', 'k', 'p', now() - interval '3 days', "
            "CASE WHEN i <= 25 THEN now() - interval '2 days' WHEN i <= 30 "
            "THEN now() - interval '1 hour' END FROM generate_series(1, 32) i");
  return url;
}

retention_settings settings(const std::string& url) {
  retention_settings cfg;
  cfg.url = url;
  cfg.batch = 10;
  cfg.pause = 0ms;
  cfg.interval = 100ms;
  return cfg;
}

} // namespace

CAF_TEST(batches are bounded and delete only what is older than the age) {
  auto url = seeded_database("it_retention_batches");
  auto cfg = settings(url);
  pqxx::connection conn{url};
  for (auto t : retention_tables) {
    CAF_MESSAGE(to_string(t));
    CAF_CHECK_EQUAL(retention_batch(conn, t, cfg), 10);
    CAF_CHECK_EQUAL(retention_batch(conn, t, cfg), 10);
    CAF_CHECK_EQUAL(retention_batch(conn, t, cfg), 5);
    CAF_CHECK_EQUAL(retention_batch(conn, t, cfg), 0);
  }
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM processed_events"), 5);
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM processed_events WHERE "
                             "event_id LIKE 'young-%'"),
                  5);
  // The open order keeps its old timeline; the recent final order its young.
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM order_timeline WHERE "
                             "order_id = '"
                               + open_id + "'"),
                  4);
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM order_timeline WHERE "
                             "order_id = '"
                               + old_id + "'"),
                  0);
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM order_timeline WHERE "
                             "order_id = '"
                               + young_id + "'"),
                  5);
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM orders"), 3);
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM dead_letters"), 5);
  // Unpublished rows stay, however old.
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM outbox"), 7);
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM outbox WHERE "
                             "published_at IS NULL"),
                  2);
}

CAF_TEST(an age of zero keeps the table) {
  auto url = seeded_database("it_retention_zero");
  auto cfg = settings(url);
  cfg.processed_events = 0s;
  pqxx::connection conn{url};
  CAF_CHECK_EQUAL(retention_batch(conn, retention_table::processed_events, cfg),
                  0);
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM processed_events"), 30);
}

CAF_TEST(a batch finds its rows through an index) {
  auto url = seeded_database("it_retention_plan");
  pqxx::connection conn{url};
  pqxx::work tx{conn};
  tx.exec("SET enable_seqscan = off"); // a table this small would be scanned
  for (auto [table, sql] :
       {std::pair{"processed_events",
                  "SELECT ctid FROM processed_events WHERE processed_at < "
                  "now() - make_interval(secs => 10) ORDER BY processed_at "
                  "LIMIT 10"},
        std::pair{"order_timeline",
                  "SELECT t.ctid FROM order_timeline t JOIN orders o ON o.id "
                  "= t.order_id WHERE t.at < now() - make_interval(secs => 10) "
                  "AND o.status <> 'NEW' AND o.finalized_at < now() - "
                  "make_interval(secs => 10) ORDER BY t.at LIMIT 10"},
        std::pair{"outbox", "SELECT ctid FROM outbox WHERE published_at < "
                            "now() - make_interval(secs => 10) ORDER BY "
                            "published_at LIMIT 10"}}) {
    std::string plan;
    for (const auto& row : tx.exec(std::string{"EXPLAIN "} + sql))
      plan += row[0].as<std::string>() + "\n";
    CAF_MESSAGE(table << ":\n" << plan);
    CAF_CHECK(plan.find("Index") != std::string::npos);
    CAF_CHECK(plan.find("Sort") == std::string::npos);
  }
  // The delete itself looks its rows up by ctid.
  std::string plan;
  for (const auto& row : tx.exec(
         "EXPLAIN DELETE FROM processed_events WHERE ctid = ANY(ARRAY(SELECT "
         "ctid FROM processed_events WHERE processed_at < now() - "
         "make_interval(secs => 10) ORDER BY processed_at LIMIT 10))"))
    plan += row[0].as<std::string>() + "\n";
  CAF_MESSAGE("delete:\n" << plan);
  CAF_CHECK(plan.find("Tid Scan") != std::string::npos);
}

CAF_TEST(the retention actor runs on one node at a time) {
  auto url = seeded_database("it_retention_actor");
  // Other suites delete rows too: the counters are compared before and after.
  auto deleted = [](const char* table) {
    return test::sample(metrics::render(),
                        "troupe_retention_deleted_rows_total",
                        {{"table", table}})
      .value_or(0);
  };
  auto processed_before = deleted("processed_events");
  auto outbox_before = deleted("outbox");
  // Another node holds the lock: this one deletes nothing.
  pqxx::connection other{url};
  CAF_REQUIRE(try_retention_lock(other));
  caf::actor_system_config sys_cfg;
  caf::actor_system sys{sys_cfg};
  auto r = sys.spawn<caf::detached>(retention, settings(url));
  std::this_thread::sleep_for(500ms);
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM processed_events"), 30);
  // Once it is free, a run catches up with every table.
  release_retention_lock(other);
  for (int i = 0; i < 100; ++i) {
    if (count(url, "SELECT count(*) FROM outbox") == 7)
      break;
    std::this_thread::sleep_for(100ms);
  }
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM processed_events"), 5);
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM order_timeline"), 9);
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM dead_letters"), 5);
  CAF_CHECK_EQUAL(count(url, "SELECT count(*) FROM outbox"), 7);
  CAF_CHECK_EQUAL(deleted("processed_events"), processed_before + 25);
  CAF_CHECK_EQUAL(deleted("outbox"), outbox_before + 25);
  caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
}
