// The outbox relay against a real PostgreSQL and a Kafka-protocol broker:
// every row is published exactly once, also after a relay died between
// Kafka's acknowledgement and its own commit.
#define CAF_SUITE outbox_relay
#include "outbox_relay.hpp"

#include <chrono>
#include <map>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/test/unit_test.hpp>

#include "environment.hpp"
#include "migrations.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

const std::vector<std::string> topics{"order.created", "payment.result",
                                      "order.status.changed"};

void insert_rows(const std::string& url, int n) {
  query_column(url, "INSERT INTO outbox (topic, key, payload) SELECT "
                    "(ARRAY['order.created','payment.result',"
                    "'order.status.changed'])[1 + i % 3], 'key-' || i, "
                    "'payload-' || i FROM generate_series(1, "
                    + std::to_string(n) + ") i RETURNING id");
}

bool wait_published(const std::string& url) {
  for (int i = 0; i < 300; ++i) {
    if (query_column(url, "SELECT count(*) FROM outbox WHERE published_at "
                          "IS NULL")[0] == "0")
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

/// How often each outbox id appears on Kafka, and whether payload and key
/// match the row.
std::map<std::string, int> published_ids(kafka_cluster& kafka,
                                         const std::string& url,
                                         int& mismatches) {
  std::map<std::string, std::pair<std::string, std::string>> rows;
  for (auto& id : query_column(url, "SELECT id FROM outbox"))
    rows[id] = {};
  auto keys = query_column(url, "SELECT key FROM outbox ORDER BY id");
  auto payloads = query_column(url, "SELECT payload FROM outbox ORDER BY id");
  auto ids = query_column(url, "SELECT id FROM outbox ORDER BY id");
  for (size_t i = 0; i < ids.size(); ++i)
    rows[ids[i]] = {keys[i], payloads[i]};
  std::map<std::string, int> seen;
  mismatches = 0;
  for (auto& t : topics)
    for (auto& r : kafka.read_all(t)) {
      auto id = r.headers["troupe.outbox_id"];
      ++seen[id];
      auto i = rows.find(id);
      if (i == rows.end() || i->second.first != r.key
          || i->second.second != r.value)
        ++mismatches;
    }
  return seen;
}

relay_config config_for(const std::string& url, const kafka_cluster& kafka) {
  relay_config cfg;
  cfg.pg_url = url;
  cfg.kafka.brokers = kafka.bootstrap();
  cfg.batch = 64; // several batches
  return cfg;
}

} // namespace

CAF_TEST(every outbox row is published exactly once) {
  auto url = fresh_database("it_relay_once");
  apply_migrations(url);
  kafka_cluster kafka;
  insert_rows(url, 300);
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    auto relay = sys.spawn<caf::detached>(outbox_relay, config_for(url, kafka));
    CAF_CHECK(wait_published(url));
    insert_rows(url, 50); // rows committed while the relay runs
    CAF_CHECK(wait_published(url));
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
  }
  int mismatches = 0;
  auto seen = published_ids(kafka, url, mismatches);
  CAF_CHECK_EQUAL(seen.size(), 350u);
  size_t twice = 0;
  for (auto& [id, n] : seen)
    if (n != 1)
      ++twice;
  CAF_CHECK_EQUAL(twice, 0u);
  CAF_CHECK_EQUAL(mismatches, 0);
}

CAF_TEST(rows already on Kafka after a crash are not published again) {
  auto url = fresh_database("it_relay_recover");
  apply_migrations(url);
  kafka_cluster kafka;
  insert_rows(url, 60);
  // A relay published the first 20 rows and died before marking them.
  auto ids = query_column(url, "SELECT id FROM outbox ORDER BY id LIMIT 20");
  auto topics_of = query_column(url, "SELECT topic FROM outbox ORDER BY id LIMIT 20");
  auto keys = query_column(url, "SELECT key FROM outbox ORDER BY id LIMIT 20");
  auto payloads = query_column(url, "SELECT payload FROM outbox ORDER BY id LIMIT 20");
  for (size_t i = 0; i < ids.size(); ++i)
    kafka.produce(topics_of[i], keys[i], payloads[i],
                  {{"troupe.outbox_id", ids[i]}});
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    auto relay = sys.spawn<caf::detached>(outbox_relay, config_for(url, kafka));
    CAF_CHECK(wait_published(url));
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
  }
  int mismatches = 0;
  auto seen = published_ids(kafka, url, mismatches);
  CAF_CHECK_EQUAL(seen.size(), 60u);
  for (auto& [id, n] : seen)
    CAF_CHECK_EQUAL(n, 1);
  CAF_CHECK_EQUAL(mismatches, 0);
}
