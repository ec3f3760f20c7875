// The saga router: spawn on first event, route to the live orchestrator,
// forget finished ones, rehydrate open sagas, respect ownership, hand off
// revoked partitions.
#define CAF_SUITE saga_router
#include "actors/saga_router.hpp"

#include <caf/test/dsl.hpp>

#include "tests/unit/fixture.hpp"

using namespace troupe;
using namespace troupe::test;
using namespace std::chrono_literals;

namespace {

struct fixture : store_fixture<test_coordinator_fixture<>> {
  saga_router_actor router;

  void start(saga_router_config cfg = {}) {
    router = sys.spawn(saga_router, store, std::move(cfg), false);
    drain();
  }

  uint64_t live() {
    auto rh = self->request(router, caf::infinite, live_atom::value);
    drain();
    uint64_t n = 0;
    rh.receive([&](uint64_t x) { n = x; },
               [&](caf::error& e) {
                 CAF_FAIL("live count failed: " << to_string(e));
               });
    return n;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(saga_router_tests, fixture)

CAF_TEST(the first event of an order spawns its orchestrator) {
  db->add_order("o-1", 30000);
  start();
  CAF_CHECK_EQUAL(live(), 0u);
  CAF_CHECK_EQUAL(ask(router, payment("o-1", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(live(), 1u);
  CAF_CHECK_EQUAL(db->orders.at("o-1").payment_status, payment_state::approved);
}

CAF_TEST(the second event reaches the same orchestrator and ends it) {
  db->add_order("o-1", 30000);
  db->add_order("o-2", 30000);
  start();
  ask(router, payment("o-1", true));
  ask(router, payment("o-2", true));
  CAF_CHECK_EQUAL(live(), 2u);
  CAF_CHECK_EQUAL(ask(router, inventory("o-1", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(db->orders.at("o-1").status, order_status::confirmed);
  CAF_CHECK_EQUAL(live(), 1u);
  CAF_CHECK_EQUAL(ask(router, inventory("o-2", false)), write_outcome::applied);
  CAF_CHECK_EQUAL(db->orders.at("o-2").reason, cancel_reason::out_of_stock);
  CAF_CHECK_EQUAL(live(), 0u);
}

CAF_TEST(rehydration finishes open sagas at their deadlines) {
  db->add_order("o-1", 1000);
  db->add_order("o-2", 3000).payment_status = payment_state::approved;
  db->add_order("o-3", 30000).status = order_status::confirmed;
  start();
  self->send(router, rehydrate_atom::value);
  expect((rehydrate_atom), from(self).to(router));
  expect((list_open_sagas),
         from(router).to(store).with(list_open_sagas{-1, 100000}));
  drain();
  CAF_CHECK_EQUAL(live(), 2u);
  advance(1000ms);
  CAF_CHECK_EQUAL(db->orders.at("o-1").reason, cancel_reason::timeout);
  CAF_CHECK_EQUAL(db->orders.at("o-2").status, order_status::fresh);
  CAF_CHECK_EQUAL(live(), 1u);
  advance(2000ms);
  CAF_CHECK_EQUAL(db->orders.at("o-2").reason, cancel_reason::timeout);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-2"), 1u);
  CAF_CHECK_EQUAL(live(), 0u);
  CAF_CHECK_EQUAL(db->orders.at("o-3").status, order_status::confirmed);
}

CAF_TEST(a result arriving for a rehydrated saga reaches it) {
  db->add_order("o-1", 5000).inventory_status = inventory_state::reserved;
  start();
  self->send(router, rehydrate_atom::value);
  drain();
  CAF_CHECK_EQUAL(live(), 1u);
  CAF_CHECK_EQUAL(ask(router, payment("o-1", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(db->orders.at("o-1").status, order_status::confirmed);
  CAF_CHECK_EQUAL(live(), 0u);
}

CAF_TEST(only owned sagas are rehydrated) {
  db->add_order("mine", 1000);
  db->add_order("theirs", 1000);
  saga_router_config cfg;
  cfg.owns = [](const std::string& id) { return id == "mine"; };
  start(cfg);
  self->send(router, rehydrate_atom::value);
  drain();
  CAF_CHECK_EQUAL(live(), 1u);
  advance(1000ms);
  CAF_CHECK_EQUAL(db->orders.at("mine").reason, cancel_reason::timeout);
  CAF_CHECK_EQUAL(db->orders.at("theirs").status, order_status::fresh);
}

CAF_TEST(revoking a partition hands its orchestrators off) {
  db->add_order("a-1", 30000);
  db->add_order("b-1", 30000);
  saga_router_config cfg;
  cfg.partition_of = [](const std::string& id) { return id[0] == 'a' ? 0 : 1; };
  start(cfg);
  ask(router, payment("a-1", true));
  ask(router, payment("b-1", true));
  CAF_CHECK_EQUAL(live(), 2u);
  self->send(router, revoke_atom::value, std::vector<int32_t>{0});
  drain();
  CAF_CHECK_EQUAL(live(), 1u);
  // The new owner rehydrates from the store: the payment is not lost.
  CAF_CHECK_EQUAL(db->orders.at("a-1").payment_status, payment_state::approved);
  CAF_CHECK_EQUAL(ask(router, inventory("b-1", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(db->orders.at("b-1").status, order_status::confirmed);
}

CAF_TEST(a revoked orchestrator commits its write in flight before it stops) {
  db->add_order("a-1", 30000);
  saga_router_config cfg;
  cfg.partition_of = [](const std::string&) { return 0; };
  start(cfg);
  ask(router, payment("a-1", true));
  // The inventory result reaches the orchestrator, whose write goes out...
  auto rh = self->request(router, caf::infinite, inventory("a-1", true));
  expect((inventory_result), from(self).to(router));
  sched.run_once(); // the orchestrator plans and sends its write
  CAF_CHECK(db->saga_writes.size() == 1u);
  // ... and the partition is revoked before the store answered.
  self->send(router, revoke_atom::value, std::vector<int32_t>{0});
  expect((revoke_atom, std::vector<int32_t>), from(self).to(router));
  CAF_CHECK_EQUAL(live(), 0u);
  drain();
  // The write committed and its sender heard so (its offset may be
  // committed): nothing is left for the new owner to redo.
  rh.receive(
    [](write_outcome x) { CAF_CHECK_EQUAL(x, write_outcome::applied); },
    [](caf::error& e) {
      CAF_FAIL("the write in flight was dropped: " << to_string(e));
    });
  CAF_CHECK_EQUAL(db->orders.at("a-1").status, order_status::confirmed);
  CAF_CHECK_EQUAL(db->saga_writes.size(), 2u);
}

CAF_TEST(a cancel request reaches the orchestrator of its order) {
  db->add_order("o-1", 30000);
  db->add_order("o-2", 30000);
  start();
  ask(router, payment("o-1", true));
  CAF_CHECK_EQUAL(live(), 1u);
  // Between the results: the live orchestrator ends the order.
  CAF_CHECK_EQUAL(ask(router, cancel("o-1")), write_outcome::applied);
  CAF_CHECK_EQUAL(db->orders.at("o-1").reason,
                  cancel_reason::customer_cancelled);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-1"), 1u);
  CAF_CHECK_EQUAL(live(), 0u);
  // Before any result: a new orchestrator; the late reservation is released.
  CAF_CHECK_EQUAL(ask(router, cancel("o-2")), write_outcome::applied);
  CAF_CHECK_EQUAL(db->orders.at("o-2").reason,
                  cancel_reason::customer_cancelled);
  CAF_CHECK_EQUAL(ask(router, inventory("o-2", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-2"), 1u);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-2"), 0u);
  CAF_CHECK_EQUAL(live(), 0u);
}

CAF_TEST(a cancel request for a final order changes nothing) {
  db->add_order("o-1", 30000);
  start();
  ask(router, payment("o-1", true));
  ask(router, inventory("o-1", true));
  CAF_REQUIRE_EQUAL(db->orders.at("o-1").status, order_status::confirmed);
  CAF_CHECK_EQUAL(ask(router, cancel("o-1")), write_outcome::duplicate);
  CAF_CHECK_EQUAL(ask(router, cancel("o-1")), write_outcome::duplicate);
  CAF_CHECK_EQUAL(db->orders.at("o-1").status, order_status::confirmed);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-1"), 1u);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-1"), 0u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-1"), 0u);
  CAF_CHECK_EQUAL(live(), 0u);
}

CAF_TEST(a cancel racing the deadline of a rehydrated saga ends it once) {
  db->add_order("o-1", 1000).inventory_status = inventory_state::reserved;
  db->reservations["o-1"] = {"SKU-1", 1, sim::reservation_status::reserved};
  start();
  self->send(router, rehydrate_atom::value);
  drain();
  CAF_CHECK_EQUAL(live(), 1u);
  // The router hands the cancel on; the deadline fires right behind it.
  auto rh = self->request(router, caf::infinite, cancel("o-1"));
  expect((cancel_requested), from(self).to(router).with(cancel("o-1")));
  sched.advance_time(1000ms);
  drain();
  rh.receive([](write_outcome) {},
             [](caf::error& e) { CAF_FAIL(to_string(e)); });
  CAF_CHECK_EQUAL(db->orders.at("o-1").status, order_status::cancelled);
  CAF_CHECK_EQUAL(db->orders.at("o-1").reason,
                  cancel_reason::customer_cancelled);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-1"), 1u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-1"), 1u);
  CAF_CHECK_EQUAL(live(), 0u);
}

CAF_TEST(the periodic sweep picks up sagas close to their deadline) {
  saga_router_config cfg;
  cfg.sweep_interval = 1000ms;
  start(cfg);
  db->add_order("late", 500);
  db->add_order("early", 60000);
  self->send(router, sweep_atom::value);
  drain();
  CAF_CHECK_EQUAL(live(), 2u); // the first sweep rehydrates everything open
  advance(500ms);
  CAF_CHECK_EQUAL(db->orders.at("late").reason, cancel_reason::timeout);
  CAF_CHECK_EQUAL(db->orders.at("early").status, order_status::fresh);
  // The next sweep comes one interval after the first.
  db->add_order("later", 1500);
  advance(500ms);
  CAF_CHECK_EQUAL(live(), 2u);
  advance(1500ms);
  CAF_CHECK_EQUAL(db->orders.at("later").reason, cancel_reason::timeout);
  // The sweep re-arms forever: stop the router before the fixture drains.
  self->send_exit(router, caf::exit_reason::user_shutdown);
  drain();
}

CAF_TEST(a deadline beyond the timer horizon still ends the saga on time) {
  db->add_order("o-1", 25000).payment_status = payment_state::approved;
  start();
  self->send(router, rehydrate_atom::value);
  drain();
  CAF_CHECK_EQUAL(live(), 1u);
  for (int i = 0; i < 24; ++i)
    advance(1000ms);
  CAF_CHECK_EQUAL(db->orders.at("o-1").status, order_status::fresh);
  advance(1000ms);
  CAF_CHECK_EQUAL(db->orders.at("o-1").reason, cancel_reason::timeout);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-1"), 1u);
  CAF_CHECK_EQUAL(live(), 0u);
}

CAF_TEST(an idle orchestrator is passivated and its saga comes back) {
  db->add_order("o-1", 60000);
  db->add_order("o-2", 60000);
  saga_router_config cfg;
  cfg.sweep_interval = 1000ms;
  cfg.passivate_after = 2000ms;
  start(cfg);
  self->send(router, sweep_atom::value); // sweeps every second from now on
  drain();
  CAF_CHECK_EQUAL(live(), 2u); // the first sweep rehydrates everything open
  ask(router, payment("o-1", true));
  advance(1000ms);
  ask(router, payment("o-2", false));
  CAF_CHECK_EQUAL(live(), 2u);
  // o-1 got nothing for 2 s, o-2 for 1 s.
  advance(1000ms);
  CAF_CHECK_EQUAL(live(), 1u);
  advance(1000ms);
  CAF_CHECK_EQUAL(live(), 0u);
  // Their state is in the store, not lost with the actors.
  CAF_CHECK_EQUAL(db->orders.at("o-1").payment_status, payment_state::approved);
  CAF_CHECK_EQUAL(db->orders.at("o-1").status, order_status::fresh);
  CAF_CHECK_EQUAL(db->orders.at("o-2").payment_status, payment_state::declined);
  // The next event spawns a fresh orchestrator from the committed state.
  CAF_CHECK_EQUAL(ask(router, inventory("o-1", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(db->orders.at("o-1").status, order_status::confirmed);
  CAF_CHECK_EQUAL(ask(router, inventory("o-2", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(db->orders.at("o-2").status, order_status::cancelled);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-2"), 1u);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-1"), 1u);
  CAF_CHECK_EQUAL(live(), 0u);
  // The sweep re-arms forever: stop the router before the fixture drains.
  self->send_exit(router, caf::exit_reason::user_shutdown);
  drain();
}

CAF_TEST(a passivated saga still times out at its deadline) {
  db->add_order("o-1", 8000);
  saga_router_config cfg;
  cfg.sweep_interval = 1000ms;
  cfg.passivate_after = 1000ms;
  start(cfg);
  self->send(router, sweep_atom::value);
  drain();
  ask(router, payment("o-1", true));
  advance(1000ms);
  advance(1000ms);
  CAF_CHECK_EQUAL(live(), 0u);
  // The sweep brings it back once its deadline is near; it ends it then.
  for (int i = 0; i < 6; ++i)
    advance(1000ms);
  CAF_CHECK_EQUAL(db->orders.at("o-1").reason, cancel_reason::timeout);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-1"), 1u);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-1"), 1u);
  // The sweep re-arms forever: stop the router before the fixture drains.
  self->send_exit(router, caf::exit_reason::user_shutdown);
  drain();
}

CAF_TEST(the router outlives orchestrators that fail) {
  // An order the store does not know: its orchestrator stops at once.
  start();
  auto rh = self->request(router, caf::infinite, payment("missing", true));
  drain();
  rh.receive([](write_outcome) { CAF_FAIL("an unknown order was applied"); },
             [](caf::error&) {});
  CAF_CHECK_EQUAL(live(), 0u);
  db->add_order("o-1", 30000);
  CAF_CHECK_EQUAL(ask(router, payment("o-1", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(live(), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
