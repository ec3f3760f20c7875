// The payment and inventory services against the in-memory store: the rules,
// effects once per event, stock conserved.
#define CAF_SUITE services
#include "actors/services.hpp"

#include <caf/test/dsl.hpp>

#include "tests/unit/fixture.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

order_created created(const std::string& id, int32_t qty, int64_t amount,
                      std::string event = "") {
  if (event.empty())
    event = "created-" + id;
  return order_created{event,   id,  "corr-" + id, "c@example.com",
                       "SKU-1", qty, amount};
}

struct fixture : store_fixture<test_coordinator_fixture<>> {
  payment_actor payment_svc;
  inventory_actor inventory_svc;
  fixture() {
    // The orders exist, as order intake created them before these services
    // saw their events (a refund or release notes itself on the order).
    for (auto id : {"o-1", "o-2", "o-3", "o-4", "o-5", "o-6", "o-7", "o-8",
                    "o-9", "o-10", "o-11", "o-12"})
      db->add_order(id, 30000);
    payment_svc = sys.spawn(payment_service, store);
    inventory_svc = sys.spawn(inventory_service, store, int64_t{20});
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(services_tests, fixture)

CAF_TEST(payment approves up to 100000 cents) {
  self->send(payment_svc, created("o-1", 1, 100000));
  expect((order_created), from(self).to(payment_svc));
  expect((payment_cmd),
         from(payment_svc)
           .to(store)
           .with(payment_cmd{"created-o-1", "o-1", "corr-o-1", 100000, true,
                             cancel_reason::none}));
  drain();
  CAF_CHECK_EQUAL(db->payments.at("o-1").approved, true);
}

CAF_TEST(payment declines above 100000 cents) {
  self->send(payment_svc, created("o-2", 1, 100001));
  expect((order_created), from(self).to(payment_svc));
  expect((payment_cmd),
         from(payment_svc)
           .to(store)
           .with(payment_cmd{"created-o-2", "o-2", "corr-o-2", 100001, false,
                             cancel_reason::payment_declined}));
  drain();
  CAF_CHECK_EQUAL(db->payments.at("o-2").approved, false);
}

CAF_TEST(a redelivered order.created pays once) {
  CAF_CHECK_EQUAL(ask(payment_svc, created("o-3", 1, 500)),
                  write_outcome::applied);
  CAF_CHECK_EQUAL(ask(payment_svc, created("o-3", 1, 500)),
                  write_outcome::duplicate);
  CAF_CHECK_EQUAL(db->count_events("payment.result", "o-3"), 1u);
}

CAF_TEST(a refund applies once and only to approved payments) {
  ask(payment_svc, created("o-4", 1, 500));
  compensation refund{"refund-o-4", "o-4", "corr-o-4", "", 0};
  CAF_CHECK_EQUAL(ask(payment_svc, refund), write_outcome::applied);
  CAF_CHECK_EQUAL(ask(payment_svc, refund), write_outcome::duplicate);
  CAF_CHECK_EQUAL(db->payments.at("o-4").refunded, true);
  ask(payment_svc, created("o-5", 1, 200000));
  ask(payment_svc, compensation{"refund-o-5", "o-5", "corr-o-5", "", 0});
  CAF_CHECK_EQUAL(db->payments.at("o-5").refunded, false);
}

CAF_TEST(inventory rejects more than 10 units without touching stock) {
  self->send(inventory_svc, created("o-6", 11, 500));
  expect((order_created), from(self).to(inventory_svc));
  expect((reserve_cmd), from(inventory_svc)
                          .to(store)
                          .with(reserve_cmd{"created-o-6",
                                            "o-6",
                                            "corr-o-6",
                                            "SKU-1",
                                            11,
                                            20,
                                            cancel_reason::quantity_limit,
                                            {single_line("SKU-1", 11, 500)}}));
  drain();
  CAF_CHECK_EQUAL(db->reservations.count("o-6"), 0u);
  CAF_CHECK_EQUAL(db->stock.count("SKU-1"), 0u);
}

CAF_TEST(inventory reserves until stock runs short) {
  ask(inventory_svc, created("o-7", 10, 500));
  ask(inventory_svc, created("o-8", 10, 500));
  CAF_CHECK_EQUAL(db->stock.at("SKU-1"), 0);
  ask(inventory_svc, created("o-9", 1, 500));
  CAF_CHECK_EQUAL(db->reservations.count("o-7"), 1u);
  CAF_CHECK_EQUAL(db->reservations.count("o-8"), 1u);
  CAF_CHECK_EQUAL(db->reservations.count("o-9"), 0u);
}

CAF_TEST(stock is reserved once and released once per order) {
  ask(inventory_svc, created("o-10", 5, 500));
  ask(inventory_svc, created("o-10", 5, 500)); // redelivered
  ask(inventory_svc, created("o-10", 5, 500, "another-event-id"));
  CAF_CHECK_EQUAL(db->stock.at("SKU-1"), 15);
  compensation release{"release-o-10", "o-10", "corr-o-10", "SKU-1", 5};
  CAF_CHECK_EQUAL(ask(inventory_svc, release), write_outcome::applied);
  CAF_CHECK_EQUAL(ask(inventory_svc, release), write_outcome::duplicate);
  release.event_id = "release-again";
  CAF_CHECK_EQUAL(ask(inventory_svc, release), write_outcome::applied);
  CAF_CHECK_EQUAL(db->stock.at("SKU-1"), 20);
}

CAF_TEST(one line over 10 units fails the whole order without touching stock) {
  auto x = created("o-11", 12, 3000);
  x.lines = {order_line{"SKU-1", 2, 500, 1000},
             order_line{"SKU-2", 10, 100, 1000},
             order_line{"SKU-3", 11, 100, 1100}};
  ask(inventory_svc, x);
  CAF_CHECK_EQUAL(db->reservations.count("o-11"), 0u);
  CAF_CHECK(db->stock.empty());
  auto& row = db->outbox.back();
  CAF_CHECK_EQUAL(std::get<inventory_result>(row.event).reason,
                  cancel_reason::quantity_limit);
}

CAF_TEST(inventory reserves every line of an order) {
  auto x = created("o-12", 12, 3000);
  x.lines = {order_line{"SKU-2", 2, 500, 1000},
             order_line{"SKU-3", 10, 200, 2000}};
  ask(inventory_svc, x);
  CAF_CHECK_EQUAL(db->stock.at("SKU-2"), 18);
  CAF_CHECK_EQUAL(db->stock.at("SKU-3"), 10);
  CAF_REQUIRE_EQUAL(db->reservations.count("o-12"), 1u);
  CAF_CHECK_EQUAL(db->reservations.at("o-12").lines, x.lines);
}

CAF_TEST_FIXTURE_SCOPE_END()
