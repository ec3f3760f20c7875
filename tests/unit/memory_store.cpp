// The in-memory store's own machinery, beyond the store contract: group
// commit on the flush message, several nodes over one database, injected
// faults, and a batch whose commit fails or is unknown (the group-commit
// core's policy on every command kind).
#define CAF_SUITE memory_store
#include "sim/memory_store.hpp"

#include <functional>
#include <string>
#include <vector>

#include <caf/test/dsl.hpp>

#include "tests/unit/fixture.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct fixture : store_fixture<test_coordinator_fixture<>> {
  static payment_cmd pay(const std::string& order, std::string event) {
    return payment_cmd{std::move(event),   order, "corr-" + order, 100, true,
                       cancel_reason::none};
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(memory_store_tests, fixture)

CAF_TEST(commands queued before the flush commit together) {
  self->request(store, caf::infinite, pay("o-1", "p-1"));
  self->request(store, caf::infinite, pay("o-2", "p-2"));
  expect((payment_cmd), from(self).to(store));
  expect((payment_cmd), from(self).to(store));
  // Both wait in the open "transaction": nothing is visible yet.
  CAF_CHECK(db->outbox.empty());
  expect((flush_atom), from(store).to(store));
  CAF_CHECK_EQUAL(db->count_events("payment.result", "o-1"), 1u);
  CAF_CHECK_EQUAL(db->count_events("payment.result", "o-2"), 1u);
  // The replies leave after the commit, in order.
  expect((write_outcome), from(store).to(self).with(write_outcome::applied));
  expect((write_outcome), from(store).to(self).with(write_outcome::applied));
}

CAF_TEST(nodes share one database) {
  auto other = sim::spawn_memory_store(sys, db, {"node-b", {}});
  db->add_order("o-1", 30000);
  reserve_cmd r{"r-1", "o-1", "corr-o-1", "SKU-1", 4, 5, cancel_reason::none};
  CAF_CHECK_EQUAL(ask(store, r), write_outcome::applied);
  CAF_CHECK_EQUAL(ask(other, r), write_outcome::duplicate);
  db->add_order("o-2", 30000);
  CAF_CHECK_EQUAL(ask(other, reserve_cmd{"r-2", "o-2", "corr-o-2", "SKU-1", 4,
                                         5, cancel_reason::none}),
                  write_outcome::applied);
  CAF_CHECK_EQUAL(db->stock.at("SKU-1"), 1);
  CAF_CHECK_EQUAL(db->reservations.count("o-2"), 0u);
}

CAF_TEST(an injected failure changes nothing and a retry applies once) {
  db->faults.fail_next = 1;
  auto r = ask(store, pay("o-1", "p-1"));
  CAF_REQUIRE(!r);
  CAF_CHECK(has_code(r.error(), troupe_errc::storage_unavailable));
  CAF_CHECK(db->processed.empty());
  CAF_CHECK(db->outbox.empty());
  CAF_CHECK_EQUAL(ask(store, pay("o-1", "p-1")), write_outcome::applied);
  CAF_CHECK_EQUAL(ask(store, pay("o-1", "p-1")), write_outcome::duplicate);
  CAF_CHECK_EQUAL(db->count_events("payment.result", "o-1"), 1u);
}

CAF_TEST(an unknown commit was applied and its re - run says so) {
  db->add_order("o-1", 30000);
  db->faults.unknown_commit_next = 1;
  saga_write w;
  w.event_id = "e-1";
  w.order_id = "o-1";
  w.payment_status = payment_state::approved;
  // The group-commit core runs the write again alone: a duplicate of the
  // commit whose answer was lost.
  CAF_CHECK_EQUAL(ask(store, w), write_outcome::duplicate);
  CAF_CHECK_EQUAL(db->orders.at("o-1").payment_status, payment_state::approved);
  CAF_CHECK_EQUAL(db->saga_writes.size(), 1u);
  CAF_CHECK_EQUAL(db->faults.unknown_commit_next, 0);
}

CAF_TEST(an unknown commit can strike a few commits later) {
  db->faults.unknown_commit_after = 1;
  db->faults.unknown_commit_next = 1;
  CAF_CHECK_EQUAL(ask(store, pay("o-1", "p-1")), write_outcome::applied);
  CAF_CHECK_EQUAL(db->faults.unknown_commit_next, 1);
  // The second commit is unknown; its re-run finds it.
  CAF_CHECK_EQUAL(ask(store, pay("o-2", "p-2")), write_outcome::duplicate);
  CAF_CHECK_EQUAL(db->faults.unknown_commit_next, 0);
  CAF_CHECK_EQUAL(db->count_events("payment.result", "o-2"), 1u);
}

CAF_TEST(a re - run whose commit is unknown too answers commit_unknown) {
  db->add_order("o-1", 30000);
  db->faults.unknown_commit_next = 2;
  saga_write w;
  w.event_id = "e-1";
  w.order_id = "o-1";
  w.payment_status = payment_state::approved;
  auto r = ask(store, w);
  CAF_REQUIRE(!r);
  CAF_CHECK(has_code(r.error(), troupe_errc::commit_unknown));
  CAF_CHECK_EQUAL(db->orders.at("o-1").payment_status, payment_state::approved);
  CAF_CHECK_EQUAL(ask(store, w), write_outcome::duplicate);
  CAF_CHECK_EQUAL(db->saga_writes.size(), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

/// One command of every kind that writes, for orders the fixture set up:
/// a new order, a cancel, a payment, a refund, a reservation, a release, a
/// notification, analytics, a saga write, a dead letter and a retry note.
struct every_kind {
  static std::string id(int n) {
    return "00000000-0000-4000-8000-00000000000" + std::to_string(n);
  }
  create_order create{id(1),   "corr-1", "key-1", "c@example.com",
                      "SKU-1", 2,        1500,    30000};
  cancel_order cancel{id(2)};
  payment_cmd pay{"pay-3", id(3), "corr-3", 1500, true, cancel_reason::none};
  refund_cmd refund{compensation{"ref-4", id(4), "corr-4", "SKU-1", 2, {}}};
  reserve_cmd reserve{"res-3", id(3), "corr-3",           "SKU-1",
                      3,       40,    cancel_reason::none};
  release_cmd release{compensation{"rel-4", id(4), "corr-4", "SKU-1", 2, {}}};
  notify_cmd notify{status_changed{"st-4", id(4), "corr-4",
                                   order_status::cancelled,
                                   cancel_reason::timeout, "c@example.com"}};
  analytics_cmd analytics{
    order_created{"an-1", id(1), "corr-1", "c@example.com", "SKU-1", 2, 1500}};
  saga_write step;
  dead_letter letter{"payment.result",
                     0,
                     7,
                     id(2),
                     "{junk",
                     "not JSON",
                     1,
                     "2026-01-02T03:04:05.006Z",
                     "2026-01-02T03:04:05.006Z",
                     "corr-2",
                     "orchestrator"};
  retry_note note{id(3), "payment", "order.created", 1, 100, "boom"};

  every_kind() {
    step.event_id = "inv-3";
    step.order_id = id(3);
    step.correlation_id = "corr-3";
    step.inventory_status = inventory_state::reserved;
    step.timeline = {timeline_kind::inventory_reserved};
  }
};

} // namespace

struct batch_fixture : fixture {
  node_store_actor node = sim::spawn_memory_store(sys, db);
  every_kind k;

  batch_fixture() {
    // Order 2 is open, order 3 waits for its results, order 4 holds a
    // payment and a reservation to give back.
    for (int n = 2; n <= 4; ++n)
      db->add_order(every_kind::id(n), 30000, 2, 1500);
    auto o4 = every_kind::id(4);
    db->payments[o4] = sim::payment_row{true, cancel_reason::none, 1500, false};
    db->stock["SKU-1"] = 40 - 2;
    db->reservations[o4]
      = sim::reservation_row{"SKU-1", 2, sim::reservation_status::reserved, {}};
  }

  /// Every answer of one batch, as its sender sees it.
  struct answers {
    caf::expected<created_order> created{caf::error{}};
    caf::expected<cancel_answer> cancelled{caf::error{}};
    std::vector<caf::expected<write_outcome>> writes;
  };

  /// Sends one command of every kind; they all join one batch.
  answers send_batch() {
    answers a;
    auto created = self->request(node, caf::infinite, k.create);
    auto cancelled = self->request(node, caf::infinite, k.cancel);
    std::vector<std::function<void()>> collect;
    auto write = [&](auto cmd) {
      auto rh = self->request(node, caf::infinite, std::move(cmd));
      auto i = a.writes.size();
      a.writes.emplace_back(caf::error{});
      collect.emplace_back([rh, i, &a]() mutable {
        rh.receive([&](write_outcome x) { a.writes[i] = x; },
                   [&](caf::error& e) { a.writes[i] = std::move(e); });
      });
    };
    write(k.pay);
    write(k.refund);
    write(k.reserve);
    write(k.release);
    write(k.notify);
    write(k.analytics);
    write(k.step);
    write(k.letter);
    write(k.note);
    drain();
    created.receive([&](created_order& x) { a.created = std::move(x); },
                    [&](caf::error& e) { a.created = std::move(e); });
    cancelled.receive([&](cancel_answer& x) { a.cancelled = std::move(x); },
                      [&](caf::error& e) { a.cancelled = std::move(e); });
    for (auto& f : collect)
      f();
    return a;
  }

  /// What the batch left in the database, row by row.
  std::string rows() const {
    std::string out;
    for (auto& ob : db->outbox)
      out += "outbox " + ob.topic + " " + ob.key + "\n";
    for (auto& t : db->timeline)
      out += "timeline " + t.order_id + " " + to_string(t.kind) + "\n";
    for (auto& [consumer, id] : db->processed)
      out += "processed " + consumer + " " + id + "\n";
    for (auto& [sku, n] : db->stock)
      out += "stock " + sku + " " + std::to_string(n) + "\n";
    for (auto& [id, r] : db->reservations)
      out += "reservation " + id + " "
             + std::to_string(static_cast<int>(r.status)) + "\n";
    for (auto& [id, p] : db->payments)
      out += "payment " + id + (p.refunded ? " refunded" : "") + "\n";
    for (auto& [id, o] : db->orders)
      out += "order " + id + " " + to_string(o.status) + " "
             + to_string(o.inventory_status)
             + (o.cancel_requested ? " cancel" : "") + "\n";
    for (auto& [sku, a] : db->analytics)
      out += "analytics " + sku + " " + std::to_string(a.orders) + "\n";
    out += "notifications " + std::to_string(db->notifications.size()) + "\n";
    out += "dead letters " + std::to_string(db->dead_letters.size()) + "\n";
    out += "saga writes " + std::to_string(db->saga_writes.size()) + "\n";
    return out;
  }
};

CAF_TEST_FIXTURE_SCOPE(memory_store_batch_tests, batch_fixture)

CAF_TEST(after an unknown commit every command answers what is now true) {
  // The same batch on a database of its own, committed cleanly.
  std::string clean;
  {
    batch_fixture other;
    auto a = other.send_batch();
    CAF_REQUIRE(a.created && a.cancelled);
    CAF_CHECK(a.created->created);
    for (auto& w : a.writes)
      CAF_CHECK_EQUAL(w, write_outcome::applied);
    clean = other.rows();
  }
  db->faults.unknown_commit_next = 1;
  auto a = send_batch();
  // Each command ran again alone after the unknown commit: the order made
  // by the lost commit is reported as created, a cancel as recorded, every
  // event-driven write as a duplicate of itself.
  CAF_REQUIRE(a.created);
  CAF_CHECK_EQUAL(a.created->order_id, k.create.order_id);
  CAF_CHECK(a.created->created);
  CAF_CHECK_EQUAL(a.created->status, "NEW");
  CAF_REQUIRE(a.cancelled);
  CAF_CHECK(a.cancelled->found);
  CAF_CHECK(a.cancelled->recorded);
  CAF_REQUIRE_EQUAL(a.writes.size(), 9u);
  for (size_t i = 0; i < 8; ++i)
    CAF_CHECK_EQUAL(a.writes[i], write_outcome::duplicate);
  // A retry note is a note of an attempt: its re-run notes it again, as
  // PostgreSQL's `timeline_known` insert does.
  CAF_CHECK_EQUAL(a.writes[8], write_outcome::applied);
  // Nothing else was applied twice: the rows are those of the clean commit
  // plus the second note.
  auto expected = clean;
  auto at = expected.find("timeline " + every_kind::id(3) + " retry\n");
  CAF_REQUIRE(at != std::string::npos);
  expected.insert(at, "timeline " + every_kind::id(3) + " retry\n");
  CAF_CHECK_EQUAL(rows(), expected);
}

CAF_TEST(a batch whose commit fails applies nothing) {
  auto before = rows();
  db->faults.fail_commit_next = 1;
  auto a = send_batch();
  CAF_REQUIRE(!a.created);
  CAF_CHECK(has_code(a.created.error(), troupe_errc::storage_unavailable));
  CAF_REQUIRE(!a.cancelled);
  for (auto& w : a.writes) {
    CAF_REQUIRE(!w);
    CAF_CHECK(has_code(w.error(), troupe_errc::storage_unavailable));
  }
  CAF_CHECK_EQUAL(rows(), before);
  // The outage is over: the same batch applies once.
  a = send_batch();
  CAF_CHECK(a.created && a.created->created);
  for (auto& w : a.writes)
    CAF_CHECK_EQUAL(w, write_outcome::applied);
}

CAF_TEST(a re - run that is unknown too fails only its own command) {
  db->faults.unknown_commit_next = 2;
  auto a = send_batch();
  // The batch, then the first command's re-run: unknown both.
  CAF_REQUIRE(!a.created);
  CAF_CHECK(has_code(a.created.error(), troupe_errc::commit_unknown));
  CAF_CHECK(a.cancelled && a.cancelled->recorded);
  for (size_t i = 0; i < 8; ++i)
    CAF_CHECK_EQUAL(a.writes[i], write_outcome::duplicate);
  CAF_CHECK_EQUAL(db->count_events("order.created", k.create.order_id), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
