// Fencing against a real PostgreSQL: once another node claimed an order's
// partition, a saga write from the previous owner (which has not noticed the
// rebalance yet) is refused, and the new owner's write goes through.
#define CAF_SUITE fencing
#include "fencing.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/test/unit_test.hpp>

#include "commands.hpp"
#include "environment.hpp"
#include "events.hpp"
#include "migrations.hpp"
#include "pg_store.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

write_outcome write(caf::actor_system& sys, const caf::actor& store,
                    saga_write w) {
  write_outcome result = write_outcome::stale;
  caf::scoped_actor self{sys};
  self->request(store, std::chrono::seconds(10), std::move(w))
    .receive([&](write_outcome x) { result = x; },
             [&](caf::error& e) { CAF_FAIL("write failed: " << to_string(e)); });
  return result;
}

} // namespace

CAF_TEST(a stale owner cannot commit saga writes) {
  auto url = fresh_database("it_fencing");
  apply_migrations(url);
  auto one_partition = [](const std::string&) { return 0; };
  auto fence_a = std::make_shared<partition_fence>(url, "node-a", one_partition);
  auto fence_b = std::make_shared<partition_fence>(url, "node-b", one_partition);
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
  w.payment_status = pay::approved;
  // Node A owns the partition: its write goes through.
  fence_a->claim({0});
  CAF_CHECK_EQUAL(write(sys, store_a, w), write_outcome::applied);
  // Node B takes the partition over; node A has not noticed yet.
  fence_b->claim({0});
  w.event_id = "ev-a2";
  w.expect_payment = pay::approved; // the state this write was planned on
  w.inventory_status = inv::reserved;
  w.final_status = status::confirmed;
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
  auto fence_c = std::make_shared<partition_fence>(url, "node-c", one_partition);
  pg_settings pc = pa;
  pc.fence = fence_c;
  auto store_c = spawn_pg_store(sys, pc);
  w.event_id = "ev-c";
  CAF_CHECK_EQUAL(write(sys, store_c, w), write_outcome::fenced);
  for (auto& s : {store_a, store_b, store_c})
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
}
