// Redelivered and malformed events against a real PostgreSQL and a
// Kafka-protocol broker: a redelivery changes nothing, a malformed message
// goes to its dead-letter topic, and the consumer keeps going.
#define CAF_SUITE redelivery
#include "adapters/kafka/consumer.hpp"

#include <chrono>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "actors/commands.hpp"
#include "actors/services.hpp"
#include "adapters/postgres/migrations.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "envelope/events.hpp"
#include "tests/integration/environment.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

std::string one(const std::string& url, const std::string& sql) {
  auto rows = query_column(url, sql);
  return rows.empty() ? "" : rows[0];
}

bool wait_for(const std::string& url, const std::string& sql,
              const std::string& expected) {
  for (int i = 0; i < 200; ++i) {
    if (one(url, sql) == expected)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

created_order create(caf::actor_system& sys, const node_store_actor& store,
                     int64_t amount) {
  create_order cmd;
  cmd.order_id = events::new_uuid();
  cmd.correlation_id = "corr-" + cmd.order_id;
  cmd.customer_email = "c@example.com";
  cmd.sku = "SKU-IT";
  cmd.quantity = 1;
  cmd.amount_cents = amount;
  created_order result;
  caf::scoped_actor self{sys};
  self->request(store, std::chrono::seconds(10), cmd)
    .receive([&](created_order& x) { result = x; },
             [&](caf::error& e) {
               CAF_FAIL("create failed: " << to_string(e));
             });
  return result;
}

} // namespace

CAF_TEST(a redelivered order.created is charged once) {
  auto url = fresh_database("it_redelivery_store");
  apply_migrations(url);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  pg_settings pg;
  pg.url = url;
  pg.pool_size = 2;
  auto store = spawn_pg_store(sys, pg);
  auto order = create(sys, store, 5000);
  CAF_CHECK(order.created);
  auto payment = sys.spawn(payment_service, store);
  order_created ev{
    "ev-1", order.order_id, order.correlation_id, "c@example.com", "SKU-IT", 1,
    5000};
  caf::scoped_actor self{sys};
  for (auto expected : {write_outcome::applied, write_outcome::duplicate,
                        write_outcome::duplicate}) {
    self->request(payment, std::chrono::seconds(10), ev)
      .receive([&](write_outcome x) { CAF_CHECK_EQUAL(x, expected); },
               [&](caf::error& e) { CAF_FAIL(to_string(e)); });
  }
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM payments"), "1");
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM outbox WHERE topic = "
                           "'payment.result'"),
                  "1");
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM processed_events WHERE "
                           "consumer = 'payment'"),
                  "1");
  caf::anon_send_exit(payment, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}

CAF_TEST(the consumer applies a redelivered event once and dead
         - letters junk) {
  auto url = fresh_database("it_redelivery_kafka");
  apply_migrations(url);
  kafka_cluster kafka;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  pg_settings pg;
  pg.url = url;
  auto store = spawn_pg_store(sys, pg);
  auto order = create(sys, store, 5000);
  // The same event twice (a producer retry or a relay restart), then junk,
  // then an event of an unknown version.
  nlohmann::json env{{"event_id", "ev-42"},
                     {"type", "order.created"},
                     {"version", 1},
                     {"order_id", order.order_id},
                     {"correlation_id", order.correlation_id},
                     {"occurred_at", "2026-01-01T00:00:00.000Z"},
                     {"payload",
                      {{"customer_email", "c@example.com"},
                       {"item_sku", "SKU-IT"},
                       {"quantity", 1},
                       {"amount_cents", 5000}}}};
  kafka.produce("order.created", order.order_id, env.dump());
  kafka.produce("order.created", order.order_id, env.dump());
  kafka.produce("order.created", order.order_id, "{not json");
  auto v9 = env;
  v9["version"] = 9;
  v9["event_id"] = "ev-43";
  kafka.produce("order.created", order.order_id, v9.dump());
  auto payment = sys.spawn(payment_service, store);
  consumer_config cc;
  cc.name = "payment";
  cc.kafka.brokers = kafka.bootstrap();
  cc.kafka.session_timeout = std::chrono::seconds(6);
  cc.kafka.group_prefix = "it";
  cc.routes.add(topics::order_created, payment);
  cc.dead_letters = store;
  auto consumer = sys.spawn<caf::detached>(kafka_consumer, cc);
  CAF_CHECK(wait_for(url, "SELECT count(*) FROM dead_letters", "2"));
  CAF_CHECK(wait_for(url, "SELECT count(*) FROM processed_events", "1"));
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM payments"), "1");
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM outbox WHERE topic = "
                           "'payment.result'"),
                  "1");
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM outbox WHERE topic = "
                           "'order.created.dlq'"),
                  "2");
  CAF_CHECK_EQUAL(one(url, "SELECT string_agg(kafka_offset::text, ',' ORDER "
                           "BY kafka_offset) FROM dead_letters"),
                  "2,3");
  auto err = one(url, "SELECT error FROM dead_letters ORDER BY kafka_offset "
                      "LIMIT 1");
  CAF_CHECK(err.find("not JSON") != std::string::npos);
  auto headers = one(url, "SELECT headers::text FROM outbox WHERE topic = "
                          "'order.created.dlq' ORDER BY id LIMIT 1");
  CAF_CHECK(headers.find("dlq.original.topic") != std::string::npos);
  CAF_CHECK(headers.find("dlq.original.offset") != std::string::npos);
  caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(payment, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}

CAF_TEST(a SKU that another node seeds at the same moment is reserved) {
  // Node X reserves a SKU nobody has seen: its transaction has inserted the
  // stock row and not committed yet. This store reserves the same SKU
  // meanwhile: its own seed waits for X, finds the row X made, and takes
  // from it. Enough stock for both, so neither may fail.
  auto url = fresh_database("it_redelivery_seed");
  apply_migrations(url);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  pg_settings pg;
  pg.url = url;
  pg.pool_size = 1;
  auto store = spawn_pg_store(sys, pg);
  auto order = create(sys, store, 1000);
  pqxx::connection other{url};
  pqxx::work x{other};
  x.exec("INSERT INTO stock (sku, available) VALUES ('SKU-NEW', 99)");
  write_outcome outcome = write_outcome::duplicate;
  std::thread reserver{[&] {
    caf::scoped_actor self{sys};
    reserve_cmd cmd{
      "ev-seed", order.order_id,     order.correlation_id, "SKU-NEW", 2,
      100,       cancel_reason::none};
    self->request(store, std::chrono::seconds(30), cmd)
      .receive([&](write_outcome y) { outcome = y; },
               [&](caf::error& e) { CAF_FAIL(to_string(e)); });
  }};
  // The store's seed now waits for X's row lock.
  auto waiting = wait_for(url,
                          "SELECT count(*) FROM pg_stat_activity WHERE "
                          "wait_event_type = 'Lock' AND query LIKE "
                          "'%INSERT INTO stock%'",
                          "1");
  CAF_CHECK(waiting);
  x.commit();
  reserver.join();
  CAF_CHECK_EQUAL(outcome, write_outcome::applied);
  auto status = one(url, "SELECT status FROM reservations WHERE order_id = '"
                           + order.order_id + "'");
  CAF_CHECK_EQUAL(status, "RESERVED");
  auto left = one(url, "SELECT available FROM stock WHERE sku = 'SKU-NEW'");
  CAF_CHECK_EQUAL(left, "97");
  auto result = one(url, "SELECT payload::json->'payload'->>'reserved' FROM "
                         "outbox WHERE topic = 'inventory.result'");
  CAF_CHECK_EQUAL(result, "true");
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}
