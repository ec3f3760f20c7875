// Fencing against a real PostgreSQL: once another node claimed an order's
// partition, a saga write from the previous owner (which has not noticed the
// rebalance yet) is refused, and the new owner's write goes through. A claim
// that fails leaves the partition unclaimed: writes for it get a retryable
// error (not `fenced`) while the claimer retries in the background.
#define CAF_SUITE fencing
#include "adapters/postgres/fencing.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/test/unit_test.hpp>
#include <pqxx/pqxx>

#include <atomic>
#include <map>
#include <thread>

#include "actors/commands.hpp"
#include "adapters/postgres/migrations.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "base/errors.hpp"
#include "envelope/events.hpp"
#include "tests/integration/batch_gate.hpp"
#include "tests/integration/environment.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

write_outcome write(caf::actor_system& sys, const node_store_actor& store,
                    saga_write w) {
  write_outcome result = write_outcome::stale;
  caf::scoped_actor self{sys};
  self->request(store, std::chrono::seconds(10), std::move(w))
    .receive([&](write_outcome x) { result = x; },
             [&](caf::error& e) {
               CAF_FAIL("write failed: " << to_string(e));
             });
  return result;
}

caf::expected<write_outcome>
try_write(caf::actor_system& sys, const node_store_actor& store, saga_write w) {
  caf::expected<write_outcome> result{caf::error{}};
  caf::scoped_actor self{sys};
  self->request(store, std::chrono::seconds(10), std::move(w))
    .receive([&](write_outcome x) { result = x; },
             [&](caf::error& e) { result = std::move(e); });
  return result;
}

template <class Predicate>
bool eventually(Predicate pred) {
  for (int i = 0; i < 100; ++i) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

void allow_connections(pqxx::connection& conn, const std::string& db,
                       bool allow) {
  pqxx::nontransaction tx{conn};
  tx.exec("ALTER DATABASE " + db + " ALLOW_CONNECTIONS "
          + (allow ? "true" : "false"));
}

} // namespace

CAF_TEST(a stale owner cannot commit saga writes) {
  auto url = fresh_database("it_fencing");
  apply_migrations(url);
  auto one_partition = [](const std::string&) { return 0; };
  auto fence_a = std::make_shared<partition_fence>(url, "node-a",
                                                   one_partition);
  auto fence_b = std::make_shared<partition_fence>(url, "node-b",
                                                   one_partition);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  pg_settings pa;
  pa.url = url;
  pa.pool_size = 1;
  pa.fence = fence_a;
  auto store_a = spawn_pg_store(sys, pa);
  auto pb = pa;
  pb.fence = fence_b;
  auto store_b = spawn_pg_store(sys, pb);
  // An order, created through node A's store.
  create_order c;
  c.order_id = events::new_uuid();
  c.correlation_id = "corr";
  c.customer_email = "c@example.com";
  c.sku = "SKU-F";
  c.quantity = 1;
  c.amount_cents = 100;
  {
    caf::scoped_actor self{sys};
    self->request(store_a, std::chrono::seconds(10), c)
      .receive([](created_order&) {},
               [](caf::error& e) { CAF_FAIL(to_string(e)); });
  }
  saga_write w;
  w.order_id = c.order_id;
  w.correlation_id = "corr";
  w.event_id = "ev-a";
  w.payment_status = payment_state::approved;
  // Node A owns the partition: its write goes through.
  fence_a->claim({0});
  CAF_CHECK_EQUAL(write(sys, store_a, w), write_outcome::applied);
  // Node B takes the partition over; node A has not noticed yet.
  fence_b->claim({0});
  w.event_id = "ev-a2";
  w.expect_payment
    = payment_state::approved; // the state this write was planned on
  w.inventory_status = inventory_state::reserved;
  w.final_status = order_status::confirmed;
  CAF_CHECK_EQUAL(write(sys, store_a, w), write_outcome::fenced);
  auto st = query_column(url, "SELECT status FROM orders");
  CAF_CHECK_EQUAL(st.at(0), "NEW");
  auto processed = query_column(url, "SELECT count(*) FROM processed_events "
                                     "WHERE event_id = 'ev-a2'");
  CAF_CHECK_EQUAL(processed.at(0), "0");
  // The new owner's write of the same event goes through, once.
  CAF_CHECK_EQUAL(write(sys, store_b, w), write_outcome::applied);
  CAF_CHECK_EQUAL(write(sys, store_b, w), write_outcome::duplicate);
  auto after = query_column(url, "SELECT status FROM orders");
  CAF_CHECK_EQUAL(after.at(0), "CONFIRMED");
  auto owner = query_column(url, "SELECT owner || ':' || generation FROM "
                                 "partition_owners");
  CAF_CHECK_EQUAL(owner.at(0), "node-b:2");
  // A node that does not own the partition at all is refused too.
  auto fence_c = std::make_shared<partition_fence>(url, "node-c",
                                                   one_partition);
  pg_settings pc = pa;
  pc.fence = fence_c;
  auto store_c = spawn_pg_store(sys, pc);
  w.event_id = "ev-c";
  CAF_CHECK_EQUAL(write(sys, store_c, w), write_outcome::fenced);
  for (auto& s : {store_a, store_b, store_c})
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
}

CAF_TEST(in one batch the writes of a stale partition are fenced and the rest
           applied) {
  auto url = fresh_database("it_fencing_batch");
  apply_migrations(url);
  std::vector<std::string> ids = {events::new_uuid(), events::new_uuid(),
                                  events::new_uuid()};
  // The first order on partition 0, the others on partition 1.
  auto partition = [ids](const std::string& id) {
    return id == ids[0] ? 0 : 1;
  };
  auto fence_a = std::make_shared<partition_fence>(url, "node-a", partition);
  auto fence_b = std::make_shared<partition_fence>(url, "node-b", partition);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  pg_settings pa;
  pa.url = url;
  pa.pool_size = 1;
  pa.fence = fence_a;
  auto store_a = spawn_pg_store(sys, pa);
  caf::scoped_actor self{sys};
  for (auto& id : ids) {
    create_order c;
    c.order_id = id;
    c.correlation_id = "corr";
    c.customer_email = "c@example.com";
    c.sku = "SKU-F";
    c.quantity = 1;
    c.amount_cents = 100;
    self->request(store_a, std::chrono::seconds(10), c)
      .receive([](created_order&) {},
               [](caf::error& e) { CAF_FAIL(to_string(e)); });
  }
  fence_a->claim({0, 1});
  fence_b->claim({1}); // node A has not noticed yet
  // One shard held at a lock: the writes sent meanwhile are one batch.
  caf::scoped_actor first{sys}, writer{sys};
  batch_gate gate{url, first, store_a, ids[0]};
  for (size_t i = 0; i < ids.size(); ++i) {
    saga_write w;
    w.order_id = ids[i];
    w.correlation_id = "corr";
    w.event_id = "ev-" + std::to_string(i);
    w.payment_status = payment_state::approved;
    writer->send(store_a, w);
  }
  gate.open();
  first->receive([](write_outcome) {}, [](caf::error&) {});
  std::map<write_outcome, int> answers;
  int got = 0;
  writer->receive_for(got, 3)([&](write_outcome x) { ++answers[x]; },
                              [&](caf::error& e) { CAF_FAIL(to_string(e)); },
                              caf::after(std::chrono::seconds(30)) >>
                                [&] { CAF_FAIL("no answer"); });
  CAF_CHECK_EQUAL(answers[write_outcome::applied], 1);
  CAF_CHECK_EQUAL(answers[write_outcome::fenced], 2);
  // Only the write of the partition node A still owns is in the store.
  auto approved = query_column(url, "SELECT id::text FROM orders WHERE "
                                    "payment_status = 'APPROVED'");
  CAF_REQUIRE_EQUAL(approved.size(), 1u);
  CAF_CHECK_EQUAL(approved[0], ids[0]);
  caf::anon_send_exit(store_a, caf::exit_reason::user_shutdown);
}

CAF_TEST(a failed claim is retried in the background and writes wait for it) {
  auto url = fresh_database("it_fencing_claim");
  apply_migrations(url);
  auto one_partition = [](const std::string&) { return 0; };
  auto fence = std::make_shared<partition_fence>(url, "node-a", one_partition);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  pg_settings pa;
  pa.url = url;
  pa.pool_size = 1;
  pa.fence = fence;
  auto store = spawn_pg_store(sys, pa);
  create_order c;
  c.order_id = events::new_uuid();
  c.correlation_id = "corr";
  c.customer_email = "c@example.com";
  c.sku = "SKU-F";
  c.quantity = 1;
  c.amount_cents = 100;
  {
    caf::scoped_actor self{sys};
    self->request(store, std::chrono::seconds(10), c)
      .receive([](created_order&) {},
               [](caf::error& e) { CAF_FAIL(to_string(e)); });
  }
  // PostgreSQL refuses new connections (the store's stays open) while the
  // consumer is assigned partition 0.
  pqxx::connection admin{url.substr(0, url.rfind('/') + 1) + "postgres"};
  allow_connections(admin, "it_fencing_claim", false);
  std::atomic<int> claims{0};
  partition_claimer::settings ps;
  ps.base = std::chrono::milliseconds(20);
  ps.cap = std::chrono::milliseconds(100);
  partition_claimer claimer{fence, url, ps,
                            [&](const std::vector<int32_t>& parts) {
                              CAF_CHECK_EQUAL(parts, std::vector<int32_t>{0});
                              ++claims;
                            }};
  fence->assign({0});
  claimer.wake();
  CAF_CHECK(eventually([&] { return claimer.failures() >= 3; }));
  CAF_CHECK_EQUAL(claims.load(), 0);
  auto why = fence->not_ready_reason();
  CAF_MESSAGE("not ready: " << why);
  CAF_CHECK(why.find("partition(s) 0 assigned but not claimed")
            != std::string::npos);
  // A saga write now waits (retryable), it is not given away as fenced.
  saga_write w;
  w.order_id = c.order_id;
  w.correlation_id = "corr";
  w.event_id = "ev-1";
  w.payment_status = payment_state::approved;
  auto early = try_write(sys, store, w);
  CAF_REQUIRE(!early);
  CAF_MESSAGE("early write: " << describe(early.error()));
  CAF_CHECK(is_outage(early.error()));
  // PostgreSQL answers again: the claim goes through without a new assignment.
  allow_connections(admin, "it_fencing_claim", true);
  auto processed = query_column(url, "SELECT count(*) FROM processed_events");
  CAF_CHECK_EQUAL(processed.at(0), "0");
  CAF_CHECK(eventually([&] { return claims.load() == 1; }));
  CAF_CHECK_EQUAL(fence->not_ready_reason(), "");
  auto owner = query_column(url, "SELECT owner || ':' || generation FROM "
                                 "partition_owners");
  CAF_CHECK_EQUAL(owner.at(0), "node-a:1");
  auto later = try_write(sys, store, w);
  CAF_REQUIRE(later);
  CAF_CHECK_EQUAL(*later, write_outcome::applied);
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}

CAF_TEST(a claim that completes after a revocation does not own the partition) {
  auto fence = std::make_shared<partition_fence>(
    "unused", "node-a", [](const std::string&) { return 0; });
  fence->assign({0, 1});
  auto attempted = fence->unclaimed();
  CAF_CHECK_EQUAL(attempted.size(), 2u);
  fence->release({0}); // revoked while the claim ran
  fence->assign({1});  // and partition 1 assigned once more
  auto done = fence->claimed(attempted, {{0, 7}, {1, 7}});
  CAF_CHECK(done.empty());
  // 0 is not ours (generation 0 never matches); 1 waits for its own claim.
  auto tok = fence->token("o");
  CAF_REQUIRE(tok);
  CAF_CHECK_EQUAL(tok->second, 0);
  auto again = fence->unclaimed();
  CAF_CHECK_EQUAL(again.size(), 1u);
  CAF_CHECK_EQUAL(again.count(1), 1u);
  CAF_CHECK_EQUAL(fence->claimed(again, {{1, 8}}), std::vector<int32_t>{1});
  CAF_CHECK_EQUAL(fence->not_ready_reason(), "");
}

CAF_TEST(while the partition count is unknown the writes of an owner wait) {
  std::atomic<int32_t> partitions{0};
  auto fence = std::make_shared<partition_fence>(
    "unused", "node-a",
    [&](const std::string&) { return partitions.load() > 0 ? 0 : -1; });
  // Not assigned anything: unfenced, as without fencing.
  CAF_CHECK(!fence->token("o"));
  fence->assign({0});
  CAF_CHECK_EQUAL(fence->claimed(fence->unclaimed(), {{0, 3}}),
                  std::vector<int32_t>{0});
  bool threw = false;
  try {
    fence->token("o");
  } catch (const partition_unclaimed&) {
    threw = true;
  }
  CAF_CHECK(threw);
  partitions = 6;
  auto tok = fence->token("o");
  CAF_REQUIRE(tok);
  CAF_CHECK_EQUAL(tok->second, 3);
}
