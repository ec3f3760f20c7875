// The orchestrator: results in any order, duplicates, every failure reason,
// the deadline under simulated time, the customer's cancel request,
// compensation exactly once, late results.
#define CAF_SUITE orchestrator
#include "actors/orchestrator.hpp"

#include <caf/test/dsl.hpp>

#include "tests/unit/fixture.hpp"

using namespace troupe;
using namespace troupe::test;
using namespace std::chrono_literals;

namespace {

struct fixture : store_fixture<test_coordinator_fixture<>> {
  orchestrator_actor orch;

  void start(const std::string& id, int64_t deadline_ms = 30000) {
    db->add_order(id, deadline_ms);
    orch = sys.spawn(orchestrator, id, store, std::nullopt,
                     default_store_timeout);
    drain();
  }

  const sim::order_row& order(const std::string& id) {
    return db->orders.at(id);
  }

  bool alive(const orchestrator_actor& x) {
    return !deref<caf::scheduled_actor>(x).getf(
      caf::abstract_actor::is_terminated_flag);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(orchestrator_tests, fixture)

CAF_TEST(payment first then inventory confirms the order) {
  start("o-1");
  self->send(orch, payment("o-1", true));
  expect((payment_result), from(self).to(orch).with(payment("o-1", true)));
  saga_write w;
  w.event_id = "pay-o-1";
  w.order_id = "o-1";
  w.correlation_id = "corr-o-1";
  w.payment_status = payment_state::approved;
  w.timeline = {timeline_kind::payment_approved};
  expect((saga_write), from(orch).to(store).with(w));
  drain();
  CAF_CHECK_EQUAL(order("o-1").payment_status, payment_state::approved);
  CAF_CHECK_EQUAL(order("o-1").status, order_status::fresh);
  CAF_CHECK_EQUAL(ask(orch, inventory("o-1", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(order("o-1").status, order_status::confirmed);
  CAF_CHECK_EQUAL(order("o-1").reason, cancel_reason::none);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-1"), 1u);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-1"), 0u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-1"), 0u);
}

CAF_TEST(inventory first then payment confirms the order) {
  start("o-2");
  CAF_CHECK_EQUAL(ask(orch, inventory("o-2", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(order("o-2").status, order_status::fresh);
  CAF_CHECK_EQUAL(ask(orch, payment("o-2", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(order("o-2").status, order_status::confirmed);
  CAF_REQUIRE_EQUAL(db->saga_writes.size(), 2u);
  auto& last = db->saga_writes.back();
  CAF_CHECK_EQUAL(last.final_status, order_status::confirmed);
  CAF_CHECK_EQUAL(last.event_id, "pay-o-2");
}

CAF_TEST(the orchestrator stops once the order is final) {
  start("o-3");
  CAF_CHECK(alive(orch));
  ask(orch, payment("o-3", true));
  CAF_CHECK(alive(orch));
  ask(orch, inventory("o-3", true));
  CAF_CHECK(!alive(orch));
}

CAF_TEST(a duplicate result changes nothing) {
  start("o-4");
  CAF_CHECK_EQUAL(ask(orch, payment("o-4", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(ask(orch, payment("o-4", true)), write_outcome::duplicate);
  CAF_CHECK_EQUAL(db->saga_writes.size(), 1u);
  CAF_CHECK_EQUAL(order("o-4").status, order_status::fresh);
}

CAF_TEST(a declined payment cancels and releases the reserved stock) {
  start("o-5");
  ask(orch, inventory("o-5", true));
  ask(orch, payment("o-5", false));
  CAF_CHECK_EQUAL(order("o-5").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-5").reason, cancel_reason::payment_declined);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-5"), 1u);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-5"), 0u);
}

CAF_TEST(a quantity over the limit cancels and refunds the payment) {
  start("o-6");
  ask(orch, payment("o-6", true));
  ask(orch, inventory("o-6", false, cancel_reason::quantity_limit));
  CAF_CHECK_EQUAL(order("o-6").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-6").reason, cancel_reason::quantity_limit);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-6"), 1u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-6"), 0u);
}

CAF_TEST(short stock cancels with out_of_stock and refunds once) {
  start("o-7");
  ask(orch, inventory("o-7", false, cancel_reason::out_of_stock));
  ask(orch, payment("o-7", true));
  ask(orch, payment("o-7", true)); // redelivered
  CAF_CHECK_EQUAL(order("o-7").reason, cancel_reason::out_of_stock);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-7"), 1u);
}

CAF_TEST(when both fail the payment reason wins whatever the order) {
  start("o-8");
  ask(orch, inventory("o-8", false, cancel_reason::quantity_limit));
  ask(orch, payment("o-8", false));
  CAF_CHECK_EQUAL(order("o-8").reason, cancel_reason::payment_declined);
  start("o-9");
  ask(orch, payment("o-9", false));
  ask(orch, inventory("o-9", false, cancel_reason::quantity_limit));
  CAF_CHECK_EQUAL(order("o-9").reason, cancel_reason::payment_declined);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-9"), 0u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-9"), 0u);
}

CAF_TEST(a missing result cancels the order exactly at the deadline) {
  start("o-10", 5000);
  ask(orch, payment("o-10", true));
  advance(4999ms);
  CAF_CHECK_EQUAL(order("o-10").status, order_status::fresh);
  advance(1ms);
  CAF_CHECK_EQUAL(order("o-10").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-10").reason, cancel_reason::timeout);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-10"), 1u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-10"), 0u);
  CAF_CHECK(!alive(orch));
}

CAF_TEST(no result at all times out without compensation) {
  db->add_order("o-11", 2000);
  auto snap = db->snapshot("o-11");
  orch = sys.spawn(orchestrator, "o-11", store, snap, default_store_timeout);
  drain();
  advance(2000ms);
  CAF_CHECK_EQUAL(order("o-11").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-11").reason, cancel_reason::timeout);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-11"), 0u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-11"), 0u);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-11"), 1u);
}

CAF_TEST(a late reservation is released once and changes nothing else) {
  start("o-12", 1000);
  advance(1000ms);
  CAF_REQUIRE_EQUAL(order("o-12").reason, cancel_reason::timeout);
  // A new orchestrator handles what arrives after the end.
  orch = sys.spawn(orchestrator, "o-12", store, std::nullopt,
                   default_store_timeout);
  CAF_CHECK_EQUAL(ask(orch, inventory("o-12", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-12"), 1u);
  orch = sys.spawn(orchestrator, "o-12", store, std::nullopt,
                   default_store_timeout);
  CAF_CHECK_EQUAL(ask(orch, inventory("o-12", true)), write_outcome::duplicate);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-12"), 1u);
  CAF_CHECK_EQUAL(order("o-12").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-12").reason, cancel_reason::timeout);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-12"), 1u);
}

CAF_TEST(a late approved payment is refunded) {
  start("o-13", 1000);
  advance(1000ms);
  orch = sys.spawn(orchestrator, "o-13", store, std::nullopt,
                   default_store_timeout);
  ask(orch, payment("o-13", true));
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-13"), 1u);
  CAF_CHECK_EQUAL(order("o-13").reason, cancel_reason::timeout);
}

CAF_TEST(a storage failure reaches the sender and a retry succeeds) {
  start("o-14");
  db->faults.fail_next = 1;
  auto first = ask(orch, payment("o-14", true));
  CAF_CHECK(!first);
  CAF_CHECK(retryable(first.error()));
  CAF_CHECK_EQUAL(order("o-14").payment_status, payment_state::none);
  CAF_CHECK_EQUAL(ask(orch, payment("o-14", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(order("o-14").payment_status, payment_state::approved);
}

CAF_TEST(plan_step is pure and ignores what it has seen) {
  saga_snapshot s;
  s.order_id = "o-15";
  s.payment_status = payment_state::approved;
  saga_step step;
  step.kind = saga_step::payment;
  step.pay = payment("o-15", true);
  CAF_CHECK(!plan_step(s, step));
  step.kind = saga_step::inventory;
  step.inv = inventory("o-15", true);
  auto w = plan_step(s, step);
  CAF_REQUIRE(w);
  CAF_CHECK_EQUAL(w->final_status, order_status::confirmed);
  CAF_CHECK_EQUAL(w->inventory_status, inventory_state::reserved);
  s.status = order_status::confirmed;
  step.kind = saga_step::deadline;
  CAF_CHECK(!plan_step(s, step));
  step.kind = saga_step::cancel;
  step.cancel_req = cancel("o-15");
  CAF_CHECK(!plan_step(s, step));
  s.status = order_status::fresh;
  auto c = plan_step(s, step);
  CAF_REQUIRE(c);
  CAF_CHECK_EQUAL(c->event_id, "cancel-o-15");
  CAF_CHECK_EQUAL(c->final_status, order_status::cancelled);
  CAF_CHECK_EQUAL(c->reason, cancel_reason::customer_cancelled);
  CAF_CHECK(c->refund);
  CAF_CHECK(!c->release);
}

// -- the customer's cancel request ---------------------------------------------

CAF_TEST(a cancel before any result ends the order and later results are
           compensated once) {
  start("o-40");
  CAF_CHECK_EQUAL(ask(orch, cancel("o-40")), write_outcome::applied);
  CAF_CHECK_EQUAL(order("o-40").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-40").reason, cancel_reason::customer_cancelled);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-40"), 1u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-40"), 0u);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-40"), 0u);
  CAF_CHECK(!alive(orch));
  // The results arrive after the end, each twice (redelivered), each at a
  // new orchestrator: compensated like after a deadline, exactly once.
  for (int i = 0; i < 2; ++i) {
    orch = sys.spawn(orchestrator, "o-40", store, std::nullopt,
                     default_store_timeout);
    ask(orch, inventory("o-40", true));
    orch = sys.spawn(orchestrator, "o-40", store, std::nullopt,
                     default_store_timeout);
    ask(orch, payment("o-40", true));
  }
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-40"), 1u);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-40"), 1u);
  CAF_CHECK_EQUAL(order("o-40").reason, cancel_reason::customer_cancelled);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-40"), 1u);
}

CAF_TEST(a cancel between the results refunds the payment once) {
  start("o-41");
  ask(orch, payment("o-41", true));
  CAF_CHECK_EQUAL(ask(orch, cancel("o-41")), write_outcome::applied);
  CAF_CHECK_EQUAL(order("o-41").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-41").reason, cancel_reason::customer_cancelled);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-41"), 1u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-41"), 0u);
  auto& last = db->saga_writes.back();
  CAF_CHECK_EQUAL(last.event_id, "cancel-o-41");
  CAF_CHECK_EQUAL(last.timeline, (std::vector<timeline_kind>{
                                   timeline_kind::compensation_refund,
                                   timeline_kind::status_cancelled}));
  // The reservation comes later: released once; the repeated cancel and
  // the repeated payment change nothing.
  orch = sys.spawn(orchestrator, "o-41", store, std::nullopt,
                   default_store_timeout);
  CAF_CHECK_EQUAL(ask(orch, inventory("o-41", true)), write_outcome::applied);
  orch = sys.spawn(orchestrator, "o-41", store, std::nullopt,
                   default_store_timeout);
  CAF_CHECK_EQUAL(ask(orch, cancel("o-41")), write_outcome::duplicate);
  orch = sys.spawn(orchestrator, "o-41", store, std::nullopt,
                   default_store_timeout);
  CAF_CHECK_EQUAL(ask(orch, payment("o-41", true)), write_outcome::duplicate);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-41"), 1u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-41"), 1u);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-41"), 1u);
}

CAF_TEST(a cancel between the results releases the reservation once) {
  start("o-42");
  ask(orch, inventory("o-42", true));
  CAF_CHECK_EQUAL(ask(orch, cancel("o-42")), write_outcome::applied);
  CAF_CHECK_EQUAL(order("o-42").reason, cancel_reason::customer_cancelled);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-42"), 1u);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-42"), 0u);
  orch = sys.spawn(orchestrator, "o-42", store, std::nullopt,
                   default_store_timeout);
  CAF_CHECK_EQUAL(ask(orch, payment("o-42", false)), write_outcome::applied);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-42"), 0u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-42"), 1u);
  CAF_CHECK_EQUAL(order("o-42").reason, cancel_reason::customer_cancelled);
}

CAF_TEST(a cancel after both results changes nothing) {
  start("o-43");
  ask(orch, payment("o-43", true));
  ask(orch, inventory("o-43", true));
  CAF_REQUIRE_EQUAL(order("o-43").status, order_status::confirmed);
  orch = sys.spawn(orchestrator, "o-43", store, std::nullopt,
                   default_store_timeout);
  CAF_CHECK_EQUAL(ask(orch, cancel("o-43")), write_outcome::duplicate);
  CAF_CHECK_EQUAL(order("o-43").status, order_status::confirmed);
  CAF_CHECK_EQUAL(order("o-43").reason, cancel_reason::none);
  CAF_CHECK_EQUAL(db->saga_writes.size(), 2u);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-43"), 1u);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-43"), 0u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-43"), 0u);
  // A cancelled order stays cancelled for its first reason too.
  start("o-44");
  ask(orch, payment("o-44", false));
  ask(orch, inventory("o-44", false));
  CAF_REQUIRE_EQUAL(order("o-44").status, order_status::cancelled);
  orch = sys.spawn(orchestrator, "o-44", store, std::nullopt,
                   default_store_timeout);
  CAF_CHECK_EQUAL(ask(orch, cancel("o-44")), write_outcome::duplicate);
  CAF_CHECK_EQUAL(order("o-44").reason, cancel_reason::payment_declined);
}

CAF_TEST(a cancel waiting when the deadline fires wins and compensates once) {
  start("o-45", 1000);
  ask(orch, inventory("o-45", true));
  auto rh = self->request(orch, caf::infinite, cancel("o-45"));
  sched.advance_time(1000ms); // the deadline queues up behind the cancel
  drain();
  rh.receive(
    [](write_outcome x) { CAF_CHECK_EQUAL(x, write_outcome::applied); },
    [](caf::error& e) { CAF_FAIL(to_string(e)); });
  CAF_CHECK_EQUAL(order("o-45").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-45").reason, cancel_reason::customer_cancelled);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-45"), 1u);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-45"), 0u);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-45"), 1u);
  CAF_CHECK_EQUAL(db->saga_writes.size(), 2u);
  CAF_CHECK(!alive(orch));
}

CAF_TEST(a deadline that fires before the cancel wins and compensates once) {
  start("o-46", 1000);
  ask(orch, payment("o-46", true));
  sched.advance_time(1000ms); // the deadline is queued first
  auto rh = self->request(orch, caf::infinite, cancel("o-46"));
  drain();
  rh.receive(
    [](write_outcome x) { CAF_CHECK_EQUAL(x, write_outcome::duplicate); },
    [](caf::error& e) { CAF_FAIL(to_string(e)); });
  CAF_CHECK_EQUAL(order("o-46").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-46").reason, cancel_reason::timeout);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-46"), 1u);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-46"), 0u);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-46"), 1u);
  CAF_CHECK(!alive(orch));
}

CAF_TEST(a cancel compensates what is committed not what is remembered) {
  // Rehydrated from a copy taken before the payment committed.
  db->add_order("o-47", 30000);
  auto stale = db->snapshot("o-47");
  db->orders.at("o-47").payment_status = payment_state::approved;
  db->payments["o-47"].approved = true;
  orch = sys.spawn(orchestrator, "o-47", store, stale, default_store_timeout);
  drain();
  CAF_CHECK_EQUAL(ask(orch, cancel("o-47")), write_outcome::applied);
  CAF_CHECK_EQUAL(order("o-47").reason, cancel_reason::customer_cancelled);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-47"), 1u);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-47"), 1u);
}

// -- acting on what is committed -----------------------------------------------

CAF_TEST(a write whose reply was lost is learned from the store) {
  start("o-20", 120000);
  db->faults.lose_reply_next = 1;
  auto rh = self->request(orch, caf::infinite, payment("o-20", true));
  drain();
  CAF_CHECK_EQUAL(order("o-20").payment_status,
                  payment_state::approved); // committed
  advance(30s); // the orchestrator's request to the store times out
  bool failed = false;
  rh.receive([](write_outcome) {}, [&](caf::error&) { failed = true; });
  CAF_CHECK(failed);
  // The redelivered result finds its step committed; the inventory result
  // then decides from what the store holds.
  CAF_CHECK_EQUAL(ask(orch, payment("o-20", true)), write_outcome::duplicate);
  CAF_CHECK_EQUAL(ask(orch, inventory("o-20", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(order("o-20").status, order_status::confirmed);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-20"), 0u);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-20"), 0u);
}

CAF_TEST(a commit whose outcome is unknown is answered by its re - run) {
  start("o-24", 120000);
  // The store runs the write again alone: it finds its own commit.
  db->faults.unknown_commit_next = 1;
  CAF_CHECK_EQUAL(ask(orch, payment("o-24", true)), write_outcome::duplicate);
  CAF_CHECK_EQUAL(order("o-24").payment_status, payment_state::approved);
  CAF_CHECK_EQUAL(db->saga_writes.size(), 1u);
  CAF_CHECK_EQUAL(ask(orch, inventory("o-24", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(order("o-24").status, order_status::confirmed);
}

CAF_TEST(a commit whose outcome is unknown is learned from the store) {
  start("o-21", 120000);
  // The commit and the re-run that could tell are both unknown.
  db->faults.unknown_commit_next = 2;
  auto first = ask(orch, payment("o-21", true));
  CAF_REQUIRE(!first);
  CAF_CHECK(retryable(first.error()));
  CAF_CHECK_EQUAL(ask(orch, payment("o-21", true)), write_outcome::duplicate);
  CAF_CHECK_EQUAL(ask(orch, inventory("o-21", true)), write_outcome::applied);
  CAF_CHECK_EQUAL(order("o-21").status, order_status::confirmed);
}

CAF_TEST(the deadline compensates what is committed not what is remembered) {
  start("o-22", 60000);
  db->faults.lose_reply_next = 1;
  self->send(orch, payment("o-22", true));
  drain();
  advance(30s); // lost: the payment is committed, the actor does not know
  // The payment result is redelivered: the actor reloads (a load is a
  // commit too) and finds it committed. The unknown commit, and its re-run,
  // then hit the inventory step's write.
  CAF_CHECK_EQUAL(ask(orch, payment("o-22", true)), write_outcome::duplicate);
  db->faults.unknown_commit_next = 2;
  auto r = ask(orch, inventory("o-22", false, cancel_reason::out_of_stock));
  CAF_CHECK(!r);
  advance(30s); // the deadline, with no redelivery in between
  CAF_CHECK_EQUAL(order("o-22").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-22").reason, cancel_reason::out_of_stock);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-22"), 1u);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-22"), 1u);
}

CAF_TEST(a stale snapshot does not decide the deadline) {
  // Rehydrated from a copy taken before the payment committed.
  db->add_order("o-23", 1000);
  auto stale = db->snapshot("o-23");
  db->orders.at("o-23").payment_status = payment_state::approved;
  db->payments["o-23"].approved = true;
  orch = sys.spawn(orchestrator, "o-23", store, stale, default_store_timeout);
  drain();
  advance(1000ms);
  CAF_CHECK_EQUAL(order("o-23").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-23").reason, cancel_reason::timeout);
  CAF_CHECK_EQUAL(db->count_events("payment.refund", "o-23"), 1u);
  CAF_CHECK_EQUAL(db->count_events("order.status.changed", "o-23"), 1u);
}

CAF_TEST(a stale snapshot does not hide a committed reservation) {
  db->add_order("o-24", 1000);
  auto stale = db->snapshot("o-24");
  db->orders.at("o-24").inventory_status = inventory_state::reserved;
  db->reservations["o-24"] = {"SKU-1", 1, sim::reservation_status::reserved};
  orch = sys.spawn(orchestrator, "o-24", store, stale, default_store_timeout);
  drain();
  CAF_CHECK_EQUAL(ask(orch, payment("o-24", false)), write_outcome::applied);
  CAF_CHECK_EQUAL(order("o-24").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-24").reason, cancel_reason::payment_declined);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-24"), 1u);
}

CAF_TEST(a fenced write hands the step off without an outage) {
  start("o-25");
  db->faults.fenced_next = 1;
  auto r = ask(orch, payment("o-25", true));
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(tier_of(r.error()), error_tier::handed_off);
  CAF_CHECK(!is_outage(r.error()));
  CAF_CHECK(!alive(orch));
}

CAF_TEST(results that arrive during a write wait for it and keep their order) {
  start("o-30");
  auto pay = self->request(orch, caf::infinite, payment("o-30", true));
  auto inv = self->request(orch, caf::infinite, inventory("o-30", true));
  drain();
  std::vector<write_outcome> answers;
  for (auto* rh : {&pay, &inv})
    rh->receive([&](write_outcome x) { answers.push_back(x); },
                [&](caf::error& e) { CAF_FAIL(to_string(e)); });
  CAF_CHECK_EQUAL(answers.size(), 2u);
  CAF_CHECK_EQUAL(db->saga_writes.size(), 2u);
  CAF_CHECK_EQUAL(db->saga_writes.at(0).payment_status,
                  payment_state::approved);
  CAF_CHECK_EQUAL(db->saga_writes.at(1).inventory_status,
                  inventory_state::reserved);
  CAF_CHECK_EQUAL(order("o-30").status, order_status::confirmed);
}

CAF_TEST(a result already waiting when the order ends is still compensated) {
  start("o-31");
  // The declined payment ends the order; the reservation is in the mailbox
  // behind it and must be released, not bounced.
  auto pay = self->request(orch, caf::infinite, payment("o-31", false));
  auto inv = self->request(orch, caf::infinite, inventory("o-31", true));
  drain();
  inv.receive(
    [](write_outcome x) { CAF_CHECK_EQUAL(x, write_outcome::applied); },
    [](caf::error& e) { CAF_FAIL(to_string(e)); });
  CAF_CHECK_EQUAL(order("o-31").status, order_status::cancelled);
  CAF_CHECK_EQUAL(order("o-31").reason, cancel_reason::payment_declined);
  CAF_CHECK_EQUAL(db->count_events("inventory.release", "o-31"), 1u);
  CAF_CHECK(!alive(orch));
}

CAF_TEST(a revoke during a write stops after it and hands off what waits) {
  start("o-32");
  auto pay = self->request(orch, caf::infinite, payment("o-32", true));
  self->send(orch, revoke_atom::value);
  auto inv = self->request(orch, caf::infinite, inventory("o-32", true));
  drain();
  pay.receive(
    [](write_outcome x) { CAF_CHECK_EQUAL(x, write_outcome::applied); },
    [](caf::error& e) { CAF_FAIL(to_string(e)); });
  bool handed_off = false;
  inv.receive([](write_outcome) { CAF_FAIL("applied after the revoke"); },
              [&](caf::error& e) {
                handed_off = tier_of(e) == error_tier::handed_off;
              });
  CAF_CHECK(handed_off);
  CAF_CHECK_EQUAL(order("o-32").payment_status, payment_state::approved);
  CAF_CHECK_EQUAL(order("o-32").inventory_status, inventory_state::none);
  CAF_CHECK(!alive(orch));
}

CAF_TEST(a failed load answers what waited with the store error) {
  db->add_order("o-33", 30000);
  db->faults.fail_loads_next = 1;
  orch = sys.spawn(orchestrator, "o-33", store, std::nullopt,
                   default_store_timeout);
  auto pay = self->request(orch, caf::infinite, payment("o-33", true));
  drain();
  bool outage = false;
  pay.receive([](write_outcome) { CAF_FAIL("applied without a snapshot"); },
              [&](caf::error& e) { outage = is_outage(e); });
  CAF_CHECK(outage); // the sender waits the outage out, no budget spent
  CAF_CHECK(!alive(orch));
}

CAF_TEST(an exit while a write is out ends the orchestrator at once) {
  // At shutdown the router's exit reaches an orchestrator whose write will
  // never be answered: it must stop now, not after the request's timeout.
  start("o-34");
  db->faults.lose_reply_next = 1;
  self->send(orch, payment("o-34", true));
  drain();
  CAF_CHECK(alive(orch));
  caf::anon_send_exit(orch, caf::exit_reason::user_shutdown);
  drain();
  CAF_CHECK(!alive(orch));
}

CAF_TEST_FIXTURE_SCOPE_END()
