// The in-memory store's own machinery, beyond the store contract: group
// commit on the flush message, several nodes over one database, injected
// faults.
#define CAF_SUITE memory_store
#include "sim/memory_store.hpp"

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

CAF_TEST(an unknown commit was applied) {
  db->add_order("o-1", 30000);
  db->faults.unknown_commit_next = 1;
  saga_write w;
  w.event_id = "e-1";
  w.order_id = "o-1";
  w.payment_status = payment_state::approved;
  auto r = ask(store, w);
  CAF_REQUIRE(!r);
  CAF_CHECK(has_code(r.error(), troupe_errc::commit_unknown));
  CAF_CHECK_EQUAL(db->orders.at("o-1").payment_status, payment_state::approved);
  CAF_CHECK_EQUAL(ask(store, w), write_outcome::duplicate);
}

CAF_TEST_FIXTURE_SCOPE_END()
