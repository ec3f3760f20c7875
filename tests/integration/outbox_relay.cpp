// The outbox relay against a real PostgreSQL and a Kafka-protocol broker:
// every row is published exactly once, also after a relay died between
// Kafka's acknowledgement and its own commit; rows of one key keep their
// order while several batches are in flight.
#define CAF_SUITE outbox_relay
#include "adapters/outbox/outbox_relay.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/test/unit_test.hpp>

#include "adapters/postgres/migrations.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "tests/integration/environment.hpp"

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

bool wait_published(const std::string& url, int tenths = 300) {
  for (int i = 0; i < tenths; ++i) {
    if (query_column(url, "SELECT count(*) FROM outbox WHERE published_at "
                          "IS NULL AND set_aside_at IS NULL")[0]
        == "0")
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

/// How often each outbox id appears on Kafka, and whether payload and key
/// match the row.
std::map<std::string, int>
published_ids(kafka_cluster& kafka, const std::string& url, int& mismatches) {
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
  auto topics_of
    = query_column(url, "SELECT topic FROM outbox ORDER BY id LIMIT 20");
  auto keys = query_column(url, "SELECT key FROM outbox ORDER BY id LIMIT 20");
  auto payloads
    = query_column(url, "SELECT payload FROM outbox ORDER BY id LIMIT 20");
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

CAF_TEST(a row Kafka refuses for good is set aside and holds nothing back) {
  auto url = fresh_database("it_relay_poison");
  apply_migrations(url);
  kafka_cluster kafka;
  // Over the producer's message size limit: Kafka never takes it.
  query_column(url, "INSERT INTO outbox (topic, key, payload) VALUES "
                    "('order.created.dlq', 'junk', repeat('x', 1200000)) "
                    "RETURNING id");
  insert_rows(url, 100);
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    auto t0 = std::chrono::steady_clock::now();
    auto relay = sys.spawn<caf::detached>(outbox_relay, config_for(url, kafka));
    CAF_CHECK(wait_published(url, 100));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
    CAF_MESSAGE("the 100 rows behind the poison row were published and the "
                "poison row set aside after "
                << ms << " ms");
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
  }
  auto published = query_column(url, "SELECT count(*) FROM outbox WHERE "
                                     "published_at IS NOT NULL");
  CAF_CHECK_EQUAL(published.at(0), "100");
  auto aside = query_column(url, "SELECT last_error FROM outbox WHERE "
                                 "set_aside_at IS NOT NULL");
  CAF_REQUIRE_EQUAL(aside.size(), 1u);
  CAF_CHECK(aside[0].find("too large") != std::string::npos);
}

CAF_TEST(rows of one key reach Kafka in row order across batches) {
  auto url = fresh_database("it_relay_order");
  apply_migrations(url);
  kafka_cluster kafka;
  // Eight keys, 50 rows each, interleaved: every batch of 64 holds rows of
  // every key, and several batches are in flight at once.
  query_column(url, "INSERT INTO outbox (topic, key, payload) SELECT "
                    "'order.created', 'key-' || i % 8, 'payload-' || i FROM "
                    "generate_series(1, 400) i RETURNING id");
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    auto relay = sys.spawn<caf::detached>(outbox_relay, config_for(url, kafka));
    CAF_CHECK(wait_published(url));
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
  }
  std::map<std::string, int64_t> last; // key -> last outbox id seen
  size_t records = 0, out_of_order = 0;
  for (auto& r : kafka.read_all("order.created")) {
    ++records;
    auto id = std::stoll(r.headers["troupe.outbox_id"]);
    auto& prev = last[r.key];
    if (id <= prev)
      ++out_of_order;
    prev = id;
  }
  CAF_CHECK_EQUAL(records, 400u);
  CAF_CHECK_EQUAL(last.size(), 8u);
  CAF_CHECK_EQUAL(out_of_order, 0u);
}

CAF_TEST(a later row of a key waits for the failing row before it) {
  auto url = fresh_database("it_relay_key_wait");
  apply_migrations(url);
  kafka_cluster kafka;
  query_column(url, "INSERT INTO outbox (topic, key, payload) VALUES "
                    "('order.created.dlq', 'junk', repeat('x', 1200000)), "
                    "('order.created.dlq', 'junk', 'small') RETURNING id");
  insert_rows(url, 20);
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    auto relay = sys.spawn<caf::detached>(outbox_relay, config_for(url, kafka));
    CAF_CHECK(wait_published(url, 100));
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
  }
  auto order = query_column(
    url, "SELECT (SELECT published_at FROM outbox WHERE key = 'junk' AND "
         "payload = 'small') > (SELECT set_aside_at FROM outbox WHERE key = "
         "'junk' AND payload <> 'small')");
  CAF_REQUIRE_EQUAL(order.size(), 1u);
  CAF_CHECK_EQUAL(order[0], "t");
  auto dlq = kafka.read_all("order.created.dlq");
  CAF_REQUIRE_EQUAL(dlq.size(), 1u);
  CAF_CHECK_EQUAL(dlq[0].value, "small");
}

CAF_TEST(a backlog drains with several batches in flight) {
  // One batch at a time (claim, produce, wait, mark), then three: the
  // figures are printed, not checked (the machine may be busy).
  for (int32_t window : {1, 3}) {
    auto url = fresh_database("it_relay_drain_" + std::to_string(window));
    apply_migrations(url);
    kafka_cluster kafka;
    insert_rows(url, 20000);
    auto cfg = config_for(url, kafka);
    cfg.batch = 500;
    cfg.in_flight_batches = window;
    caf::actor_system_config sys_cfg;
    caf::actor_system sys{sys_cfg};
    auto t0 = std::chrono::steady_clock::now();
    auto relay = sys.spawn<caf::detached>(outbox_relay, cfg);
    CAF_CHECK(wait_published(url, 1200));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
    CAF_MESSAGE("20000 rows, "
                << window << " batch(es) of 500 in flight: " << ms << " ms, "
                << 20000 * 1000 / std::max<int64_t>(ms, 1) << " rows/s");
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
  }
}

CAF_TEST(a foreign outbox id header does not stall publishing) {
  auto url = fresh_database("it_relay_foreign");
  apply_migrations(url);
  kafka_cluster kafka;
  kafka.produce("order.created", "k", "v",
                {{"troupe.outbox_id", "not-a-number"}});
  kafka.produce("payment.result", "k", "v",
                {{"troupe.outbox_id", "99999999999999999999"}});
  insert_rows(url, 30);
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    auto relay = sys.spawn<caf::detached>(outbox_relay, config_for(url, kafka));
    CAF_CHECK(wait_published(url, 50));
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
  }
  int mismatches = 0;
  auto seen = published_ids(kafka, url, mismatches);
  CAF_CHECK_EQUAL(seen.size(), 30u + 2u); // the two foreign records too
}

CAF_TEST(a dead letter keeps bytes that are not UTF - 8 exactly) {
  auto url = fresh_database("it_relay_bytes");
  apply_migrations(url);
  kafka_cluster kafka;
  const std::string junk = "\xff\xfe junk \xc3(";
  const std::string key = "k\x80";
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    pg_settings pg;
    pg.url = url;
    pg.pool_size = 1;
    auto store = spawn_pg_store(sys, pg);
    dead_letter d;
    d.topic = "order.created";
    d.partition = 1;
    d.offset = 7;
    d.key = key;
    d.payload = junk;
    d.error = "malformed_event: not JSON: last read: '\xff'";
    d.attempts = 1;
    d.first_failure = d.last_failure = "2026-12-02T00:00:00.000Z";
    d.consumer = "payment";
    caf::scoped_actor self{sys};
    bool ok = false;
    self->request(store, std::chrono::seconds(10), d)
      .receive([&](write_outcome x) { ok = x == write_outcome::applied; },
               [&](caf::error& e) {
                 CAF_FAIL("refused: " << caf::to_string(e));
               });
    CAF_CHECK(ok);
    auto relay = sys.spawn<caf::detached>(outbox_relay, config_for(url, kafka));
    CAF_CHECK(wait_published(url));
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  }
  auto shown = query_column(url, "SELECT payload FROM dead_letters");
  CAF_REQUIRE_EQUAL(shown.size(), 1u);
  CAF_CHECK_EQUAL(shown[0], "\\xff\\xfe junk \\xc3(");
  auto exact = query_column(url, "SELECT payload_raw = "
                                 "'\\xfffe206a756e6b20c328'::bytea FROM "
                                 "dead_letters");
  CAF_CHECK_EQUAL(exact.at(0), "t");
  auto dlq = kafka.read_all("order.created.dlq");
  CAF_REQUIRE_EQUAL(dlq.size(), 1u);
  CAF_CHECK(dlq[0].value == junk);
  CAF_CHECK(dlq[0].key == key);
  CAF_CHECK_EQUAL(dlq[0].headers["dlq.original.offset"], "7");
}
