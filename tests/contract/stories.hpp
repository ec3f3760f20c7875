// The store contract: what every binding of the store does, as stories run
// against each binding (a `store_target`). Included by one suite per binding,
// after it defined `contract_target`, its `store_target`:
//
//   unit         contract_memory    sim/memory_store
//   integration  contract_postgres  adapters/postgres (a fresh database)
//
// Each story gets a fresh target. Order ids are UUIDs, as PostgreSQL wants.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/test/unit_test.hpp>

#include "actors/commands.hpp"
#include "base/errors.hpp"
#include "tests/contract/target.hpp"

namespace troupe::test::contract {

// Internal linkage: each including suite has its own `contract_target`.
namespace {

std::string uuid(int n) {
  auto digits = std::to_string(n);
  return "00000000-0000-4000-8000-" + std::string(12 - digits.size(), '0')
         + digits;
}

using strings = std::vector<std::string>;

struct stories {
  contract_target target;
  node_store_actor store; ///< node-a's, which owns the partition

  stories() {
    target.claim("node-a");
    store = target.store("node-a");
  }

  template <class Reply, class Cmd>
  caf::expected<Reply> try_ask(const node_store_actor& dest, Cmd cmd) {
    caf::expected<Reply> result{caf::error{}};
    caf::scoped_actor self{target.sys};
    self->request(dest, std::chrono::seconds(10), std::move(cmd))
      .receive([&](Reply& x) { result = std::move(x); },
               [&](caf::error& e) { result = std::move(e); });
    return result;
  }

  template <class Reply, class Cmd>
  Reply ask(const node_store_actor& dest, Cmd cmd) {
    auto r = try_ask<Reply>(dest, std::move(cmd));
    if (!r)
      CAF_FAIL("the store failed: " << describe(r.error()));
    return std::move(*r);
  }

  template <class Cmd>
  write_outcome write(Cmd cmd) {
    return ask<write_outcome>(store, std::move(cmd));
  }

  template <class Cmd>
  write_outcome write_as(const std::string& node, Cmd cmd) {
    return ask<write_outcome>(target.store(node), std::move(cmd));
  }

  static create_order order(const std::string& id, int32_t qty = 2,
                            int64_t amount = 1500, int64_t deadline = 30000,
                            std::string key = "") {
    return create_order{id,      "corr-" + id, std::move(key), "c@example.com",
                        "SKU-C", qty,          amount,         deadline};
  }

  created_order create(create_order c) {
    return ask<created_order>(store, std::move(c));
  }

  static payment_cmd pay(const std::string& id, std::string event,
                         bool approved = true, int64_t amount = 1500) {
    return payment_cmd{std::move(event),
                       id,
                       "corr-" + id,
                       amount,
                       approved,
                       approved ? cancel_reason::none
                                : cancel_reason::payment_declined};
  }

  static reserve_cmd reserve(const std::string& id, std::string event,
                             const std::string& sku, int32_t qty,
                             int64_t default_stock) {
    return reserve_cmd{
      std::move(event),   id, "corr-" + id, sku, qty, default_stock,
      cancel_reason::none};
  }

  static compensation what(const std::string& id, std::string event,
                           const std::string& sku = "", int32_t qty = 0) {
    return compensation{std::move(event), id, "corr-" + id, sku, qty, {}};
  }

  /// An order with `lines` (SKU and quantity each, at 100 cents a unit).
  static create_order
  order_of(const std::string& id,
           std::vector<std::pair<std::string, int32_t>> lines) {
    auto c = order(id);
    c.lines.clear();
    for (auto& [sku, qty] : lines)
      c.lines.push_back(order_line{sku, qty, 100, 100 * qty});
    c.sku = c.lines.front().sku;
    c.quantity = total_quantity(c.lines);
    c.amount_cents = total_amount(c.lines);
    return c;
  }

  /// Reserves the lines of `c`.
  static reserve_cmd reserve_lines(const create_order& c, std::string event,
                                   int64_t default_stock) {
    auto r = reserve(c.order_id, std::move(event), c.sku, c.quantity,
                     default_stock);
    r.lines = c.lines;
    return r;
  }

  /// A saga write from the fresh state.
  static saga_write step(const std::string& id, std::string event) {
    saga_write w;
    w.event_id = std::move(event);
    w.order_id = id;
    w.correlation_id = "corr-" + id;
    return w;
  }
};

} // namespace

} // namespace troupe::test::contract

using namespace troupe;
using namespace troupe::test;
using namespace troupe::test::contract;

CAF_TEST_FIXTURE_SCOPE(contract_tests, stories)

CAF_TEST(an order is created once and its idempotency key finds it again) {
  auto a = uuid(1);
  auto first = create(order(a, 2, 1500, 30000, "key-1"));
  CAF_CHECK_EQUAL(first.order_id, a);
  CAF_CHECK_EQUAL(first.status, "NEW");
  CAF_CHECK(first.created);
  CAF_CHECK_EQUAL(target.order_status(a), "NEW");
  CAF_CHECK_EQUAL(target.outbox_topics(a), strings{"order.created"});
  CAF_CHECK_EQUAL(target.timeline(a), strings{"created"});
  // The same command again (its commit's outcome was unknown): created.
  auto again = create(order(a, 2, 1500, 30000, "key-1"));
  CAF_CHECK_EQUAL(again.order_id, a);
  CAF_CHECK(again.created);
  // Another request with the same key finds the first order.
  auto b = uuid(2);
  auto other = create(order(b, 5, 99, 30000, "key-1"));
  CAF_CHECK_EQUAL(other.order_id, a);
  CAF_CHECK_EQUAL(other.correlation_id, "corr-" + a);
  CAF_CHECK(!other.created);
  CAF_CHECK_EQUAL(target.order_status(b), "");
  CAF_CHECK_EQUAL(target.outbox_topics(a), strings{"order.created"});
  CAF_CHECK(target.outbox_topics(b).empty());
  // Without a key, each id is its own order.
  auto c = uuid(3);
  CAF_CHECK(create(order(c)).created);
  CAF_CHECK_EQUAL(target.order_status(c), "NEW");
}

CAF_TEST(an order the schema refuses writes nothing) {
  auto a = uuid(1);
  auto r = try_ask<created_order>(store, order(a, 0));
  CAF_REQUIRE(!r);
  CAF_CHECK(has_code(r.error(), troupe_errc::storage_rejected));
  CAF_CHECK_EQUAL(target.order_status(a), "");
  CAF_CHECK(target.outbox_topics(a).empty());
}

CAF_TEST(a payment is applied once per event id) {
  auto a = uuid(1);
  create(order(a));
  CAF_CHECK_EQUAL(write(pay(a, "pay-1")), write_outcome::applied);
  CAF_CHECK_EQUAL(write(pay(a, "pay-1")), write_outcome::duplicate);
  CAF_CHECK_EQUAL(target.outbox_topics(a),
                  (strings{"order.created", "payment.result"}));
  // A second decision for the order (another event id) emits its result,
  // but the first decision is the one on record: it is refunded.
  CAF_CHECK_EQUAL(write(pay(a, "pay-2", false)), write_outcome::applied);
  CAF_CHECK_EQUAL(
    target.outbox_topics(a),
    (strings{"order.created", "payment.result", "payment.result"}));
  CAF_CHECK_EQUAL(write(refund_cmd{what(a, "refund-1")}),
                  write_outcome::applied);
  CAF_CHECK_EQUAL(target.timeline(a), (strings{"created", "payment.refunded"}));
}

CAF_TEST(a declined payment is recorded and never refunded) {
  auto a = uuid(1);
  create(order(a));
  CAF_CHECK_EQUAL(write(pay(a, "pay-1", false)), write_outcome::applied);
  CAF_CHECK_EQUAL(target.outbox_topics(a),
                  (strings{"order.created", "payment.result"}));
  CAF_CHECK_EQUAL(write(refund_cmd{what(a, "refund-1")}),
                  write_outcome::applied);
  CAF_CHECK_EQUAL(target.timeline(a), strings{"created"});
  CAF_CHECK_EQUAL(target.outbox_topics(a),
                  (strings{"order.created", "payment.result"}));
}

CAF_TEST(stock is reserved within what is available) {
  auto a = uuid(1);
  auto b = uuid(2);
  create(order(a));
  create(order(b));
  CAF_CHECK_EQUAL(target.stock("SKU-R"), -1);
  CAF_CHECK_EQUAL(write(reserve(a, "res-a", "SKU-R", 3, 5)),
                  write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-R"), 2);
  CAF_CHECK_EQUAL(write(reserve(a, "res-a", "SKU-R", 3, 5)),
                  write_outcome::duplicate);
  // Another event for the same order reports the reservation, takes nothing.
  CAF_CHECK_EQUAL(write(reserve(a, "res-a2", "SKU-R", 3, 5)),
                  write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-R"), 2);
  CAF_CHECK_EQUAL(
    target.inventory_outcomes(a),
    (std::vector<cancel_reason>{cancel_reason::none, cancel_reason::none}));
  // Short: out of stock, and the stock stays as it is.
  CAF_CHECK_EQUAL(write(reserve(b, "res-b", "SKU-R", 3, 5)),
                  write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-R"), 2);
  CAF_CHECK_EQUAL(target.inventory_outcomes(b),
                  std::vector<cancel_reason>{cancel_reason::out_of_stock});
  CAF_CHECK_EQUAL(target.outbox_topics(b),
                  (strings{"order.created", "inventory.result"}));
  // A new SKU with less default stock than asked: seeded, not taken.
  CAF_CHECK_EQUAL(write(reserve(b, "res-b2", "SKU-S", 4, 3)),
                  write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-S"), 3);
  CAF_CHECK_EQUAL(target.inventory_outcomes(b),
                  (std::vector<cancel_reason>{cancel_reason::out_of_stock,
                                              cancel_reason::out_of_stock}));
}

CAF_TEST(a reservation is released exactly once) {
  auto a = uuid(1);
  create(order(a));
  write(reserve(a, "res-1", "SKU-L", 4, 10));
  CAF_CHECK_EQUAL(target.stock("SKU-L"), 6);
  release_cmd rel{what(a, "rel-1", "SKU-L", 4)};
  CAF_CHECK_EQUAL(write(rel), write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-L"), 10);
  CAF_CHECK_EQUAL(write(rel), write_outcome::duplicate);
  rel.what.event_id = "rel-2";
  CAF_CHECK_EQUAL(write(rel), write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-L"), 10);
  CAF_CHECK_EQUAL(target.timeline(a),
                  (strings{"created", "inventory.released"}));
  // A released order does not reserve again.
  CAF_CHECK_EQUAL(write(reserve(a, "res-2", "SKU-L", 4, 10)),
                  write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-L"), 10);
  CAF_CHECK_EQUAL(target.inventory_outcomes(a),
                  (std::vector<cancel_reason>{cancel_reason::none,
                                              cancel_reason::out_of_stock}));
  // Releasing an order that reserved nothing changes nothing.
  auto b = uuid(2);
  create(order(b));
  CAF_CHECK_EQUAL(write(release_cmd{what(b, "rel-b", "SKU-L", 4)}),
                  write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-L"), 10);
  CAF_CHECK_EQUAL(target.timeline(b), strings{"created"});
}

CAF_TEST(a payment is refunded once) {
  auto a = uuid(1);
  create(order(a));
  write(pay(a, "pay-1"));
  refund_cmd ref{what(a, "ref-1")};
  CAF_CHECK_EQUAL(write(ref), write_outcome::applied);
  CAF_CHECK_EQUAL(write(ref), write_outcome::duplicate);
  ref.what.event_id = "ref-2";
  CAF_CHECK_EQUAL(write(ref), write_outcome::applied);
  CAF_CHECK_EQUAL(target.timeline(a), (strings{"created", "payment.refunded"}));
}

CAF_TEST(the final status of a saga is written once) {
  auto a = uuid(1);
  create(order(a));
  auto w = step(a, "pay-ev");
  w.payment_status = payment_state::approved;
  w.timeline = {timeline_kind::payment_approved};
  CAF_CHECK_EQUAL(write(w), write_outcome::applied);
  CAF_CHECK_EQUAL(write(w), write_outcome::duplicate);
  // Planned on a snapshot that did not see the payment: stale, and the
  // event stays unprocessed.
  auto late = step(a, "inv-ev");
  late.inventory_status = inventory_state::reserved;
  late.final_status = order_status::confirmed;
  late.timeline = {timeline_kind::inventory_reserved,
                   timeline_kind::status_confirmed};
  CAF_CHECK_EQUAL(write(late), write_outcome::stale);
  CAF_CHECK_EQUAL(target.order_status(a), "NEW");
  late.expect_payment = payment_state::approved;
  CAF_CHECK_EQUAL(write(late), write_outcome::applied);
  CAF_CHECK_EQUAL(target.order_status(a), "CONFIRMED");
  CAF_CHECK_EQUAL(write(late), write_outcome::duplicate);
  // The deadline, planned before the confirmation: stale, nothing changes.
  auto deadline = step(a, "");
  deadline.final_status = order_status::cancelled;
  deadline.reason = cancel_reason::timeout;
  deadline.refund = true;
  deadline.expect_payment = payment_state::approved;
  deadline.timeline = {timeline_kind::deadline_expired,
                       timeline_kind::status_cancelled};
  CAF_CHECK_EQUAL(write(deadline), write_outcome::stale);
  CAF_CHECK_EQUAL(target.order_status(a), "CONFIRMED");
  CAF_CHECK_EQUAL(target.outbox_topics(a),
                  (strings{"order.created", "order.status.changed"}));
  CAF_CHECK_EQUAL(target.timeline(a),
                  (strings{"created", "payment.approved", "inventory.reserved",
                           "status.CONFIRMED"}));
  // A write for an order that does not exist is stale too.
  CAF_CHECK_EQUAL(write(step(uuid(9), "x")), write_outcome::stale);
}

CAF_TEST(a cancel request is recorded once and only for an open order) {
  auto a = uuid(1);
  create(order(a));
  auto first = ask<cancel_answer>(store, cancel_order{a});
  CAF_CHECK(first.found);
  CAF_CHECK(first.recorded);
  CAF_CHECK_EQUAL(first.order_id, a);
  CAF_CHECK_EQUAL(first.correlation_id, "corr-" + a);
  CAF_CHECK_EQUAL(first.status, order_status::fresh);
  // The store records the request; the order's orchestrator ends it.
  CAF_CHECK_EQUAL(target.order_status(a), "NEW");
  CAF_CHECK_EQUAL(target.outbox_topics(a),
                  (strings{"order.created", "order.cancel.requested"}));
  CAF_CHECK_EQUAL(target.timeline(a), (strings{"created", "cancel.requested"}));
  // Repeated: the same answer, nothing written.
  auto again = ask<cancel_answer>(store, cancel_order{a});
  CAF_CHECK_EQUAL(again, first);
  CAF_CHECK_EQUAL(target.outbox_topics(a),
                  (strings{"order.created", "order.cancel.requested"}));
  CAF_CHECK_EQUAL(target.timeline(a), (strings{"created", "cancel.requested"}));
  // Once the orchestrator ended the order, a request finds it final.
  auto w = step(a, "cancel-a");
  w.final_status = order_status::cancelled;
  w.reason = cancel_reason::customer_cancelled;
  w.timeline = {timeline_kind::status_cancelled};
  CAF_CHECK_EQUAL(write(w), write_outcome::applied);
  auto late = ask<cancel_answer>(store, cancel_order{a});
  CAF_CHECK(late.found);
  CAF_CHECK(!late.recorded);
  CAF_CHECK_EQUAL(late.status, order_status::cancelled);
  CAF_CHECK_EQUAL(late.reason, cancel_reason::customer_cancelled);
  CAF_CHECK_EQUAL(target.outbox_topics(a),
                  (strings{"order.created", "order.cancel.requested",
                           "order.status.changed"}));
  // A confirmed order is never marked.
  auto b = uuid(2);
  create(order(b));
  auto ok = step(b, "pay-b");
  ok.payment_status = payment_state::approved;
  ok.inventory_status = inventory_state::reserved;
  ok.final_status = order_status::confirmed;
  ok.timeline = {timeline_kind::status_confirmed};
  CAF_CHECK_EQUAL(write(ok), write_outcome::applied);
  auto refused = ask<cancel_answer>(store, cancel_order{b});
  CAF_CHECK(refused.found);
  CAF_CHECK(!refused.recorded);
  CAF_CHECK_EQUAL(refused.status, order_status::confirmed);
  CAF_CHECK_EQUAL(refused.reason, cancel_reason::none);
  CAF_CHECK_EQUAL(target.outbox_topics(b),
                  (strings{"order.created", "order.status.changed"}));
  CAF_CHECK_EQUAL(target.timeline(b), (strings{"created", "status.CONFIRMED"}));
  // An unknown order is not found.
  auto none = ask<cancel_answer>(store, cancel_order{uuid(9)});
  CAF_CHECK(!none.found);
  CAF_CHECK(!none.recorded);
  CAF_CHECK(target.outbox_topics(uuid(9)).empty());
}

CAF_TEST(load_saga and list_open_sagas return what was written) {
  auto a = uuid(1);
  auto b = uuid(2);
  auto c = uuid(3);
  create(order(a, 3, 4200, 1000));
  create(order(b, 1, 100, 60000));
  create(order(c, 1, 100, 500));
  auto w = step(c, "pay-c");
  w.payment_status = payment_state::declined;
  w.final_status = order_status::cancelled;
  w.reason = cancel_reason::payment_declined;
  CAF_CHECK_EQUAL(write(w), write_outcome::applied);
  auto pay_b = step(b, "pay-b");
  pay_b.payment_status = payment_state::approved;
  CAF_CHECK_EQUAL(write(pay_b), write_outcome::applied);
  auto s = ask<saga_snapshot>(store, load_saga{a});
  CAF_CHECK(s.found);
  CAF_CHECK_EQUAL(s.order_id, a);
  CAF_CHECK_EQUAL(s.correlation_id, "corr-" + a);
  CAF_CHECK_EQUAL(s.customer_email, "c@example.com");
  CAF_CHECK_EQUAL(s.sku, "SKU-C");
  CAF_CHECK_EQUAL(s.quantity, 3);
  CAF_CHECK_EQUAL(s.amount_cents, 4200);
  CAF_CHECK_EQUAL(s.status, order_status::fresh);
  CAF_CHECK_EQUAL(s.payment_status, payment_state::none);
  CAF_CHECK(s.deadline_in_ms <= 1000 && s.deadline_in_ms > -9000);
  CAF_CHECK(s.created_at_ms > 0);
  auto sc = ask<saga_snapshot>(store, load_saga{c});
  CAF_CHECK_EQUAL(sc.status, order_status::cancelled);
  CAF_CHECK_EQUAL(sc.reason, cancel_reason::payment_declined);
  CAF_CHECK_EQUAL(sc.payment_status, payment_state::declined);
  auto none = ask<saga_snapshot>(store, load_saga{uuid(9)});
  CAF_CHECK(!none.found);
  CAF_CHECK_EQUAL(none.order_id, uuid(9));
  auto ids = [](const std::vector<saga_snapshot>& xs) {
    strings out;
    for (auto& x : xs)
      out.push_back(x.order_id);
    return out;
  };
  using open_list = std::vector<saga_snapshot>;
  // Open ones only, soonest deadline first.
  auto all = ask<open_list>(store, list_open_sagas{-1, 100});
  CAF_CHECK_EQUAL(ids(all), (strings{a, b}));
  CAF_REQUIRE_EQUAL(all.size(), 2u);
  CAF_CHECK_EQUAL(all[1].payment_status, payment_state::approved);
  CAF_CHECK_EQUAL(ids(ask<open_list>(store, list_open_sagas{10000, 100})),
                  strings{a});
  CAF_CHECK_EQUAL(ids(ask<open_list>(store, list_open_sagas{-1, 1})),
                  strings{a});
}

CAF_TEST(a stale owner cannot commit saga writes) {
  auto a = uuid(1);
  create(order(a));
  auto w = step(a, "ev-1");
  w.payment_status = payment_state::approved;
  CAF_CHECK_EQUAL(write_as("node-a", w), write_outcome::applied);
  // Node B takes the partition over; node A has not noticed.
  target.claim("node-b");
  auto next = step(a, "ev-2");
  next.expect_payment = payment_state::approved;
  next.inventory_status = inventory_state::reserved;
  next.final_status = order_status::confirmed;
  CAF_CHECK_EQUAL(write_as("node-a", next), write_outcome::fenced);
  CAF_CHECK_EQUAL(target.order_status(a), "NEW");
  // The refused write left its event unprocessed: the new owner applies it.
  CAF_CHECK_EQUAL(write_as("node-b", next), write_outcome::applied);
  CAF_CHECK_EQUAL(write_as("node-b", next), write_outcome::duplicate);
  CAF_CHECK_EQUAL(target.order_status(a), "CONFIRMED");
  // A node that never owned the partition is refused too.
  auto other = step(a, "ev-3");
  CAF_CHECK_EQUAL(write_as("node-c", other), write_outcome::fenced);
  CAF_CHECK_EQUAL(target.outbox_topics(a),
                  (strings{"order.created", "order.status.changed"}));
}

CAF_TEST(dead letters and retry notes are recorded) {
  auto a = uuid(1);
  create(order(a));
  dead_letter d{"payment.result",
                2,
                17,
                a,
                "{junk",
                "not JSON",
                3,
                "2026-01-02T03:04:05.006Z",
                "2026-01-02T03:04:07.008Z",
                "corr-x",
                "orchestrator"};
  CAF_CHECK_EQUAL(write(d), write_outcome::applied);
  CAF_CHECK_EQUAL(write(d), write_outcome::duplicate);
  CAF_CHECK_EQUAL(target.dead_letters(), 1);
  CAF_CHECK_EQUAL(target.outbox_topics(a),
                  (strings{"order.created", "payment.result.dlq"}));
  // Another consumer's failure of the same message is its own letter.
  d.consumer = "notification";
  CAF_CHECK_EQUAL(write(d), write_outcome::applied);
  CAF_CHECK_EQUAL(target.dead_letters(), 2);
  // A key that is not an order: recorded and published, no timeline.
  dead_letter junk = d;
  junk.key = "junk-key";
  junk.offset = 18;
  CAF_CHECK_EQUAL(write(junk), write_outcome::applied);
  CAF_CHECK_EQUAL(target.outbox_topics("junk-key"),
                  strings{"payment.result.dlq"});
  CAF_CHECK_EQUAL(target.dead_letters(), 3);
  CAF_CHECK_EQUAL(write(retry_note{a, "payment", "order.created", 2, 400,
                                   "storage unavailable"}),
                  write_outcome::applied);
  CAF_CHECK_EQUAL(write(retry_note{"not-an-order", "payment", "order.created",
                                   1, 100, "boom"}),
                  write_outcome::stale);
  CAF_CHECK_EQUAL(target.timeline(a), (strings{"created", "dead_lettered",
                                               "dead_lettered", "retry"}));
}

CAF_TEST(notifications and analytics count once per event id) {
  auto a = uuid(1);
  create(order(a));
  status_changed sc{"st-1",
                    a,
                    "corr-" + a,
                    order_status::confirmed,
                    cancel_reason::none,
                    "c@example.com"};
  CAF_CHECK_EQUAL(write(notify_cmd{sc}), write_outcome::applied);
  CAF_CHECK_EQUAL(write(notify_cmd{sc}), write_outcome::duplicate);
  CAF_CHECK_EQUAL(target.timeline(a),
                  (strings{"created", "notification.sent"}));
  order_created oc{"oc-1", a, "corr-" + a, "c@example.com", "SKU-C", 2, 1500};
  CAF_CHECK_EQUAL(write(analytics_cmd{oc}), write_outcome::applied);
  CAF_CHECK_EQUAL(write(analytics_cmd{oc}), write_outcome::duplicate);
}

CAF_TEST(every state change has its outbox event and no event is without one) {
  auto a = uuid(1);
  create(order(a, 2, 1500));
  write(pay(a, "pay-1"));
  write(reserve(a, "res-1", "SKU-C", 2, 10));
  auto w = step(a, "pay-ev");
  w.payment_status = payment_state::approved;
  write(w);
  // Nothing but the saga's state changed: no event for that step.
  CAF_CHECK_EQUAL(
    target.outbox_topics(a),
    (strings{"order.created", "payment.result", "inventory.result"}));
  auto fin = step(a, "");
  fin.final_status = order_status::cancelled;
  fin.reason = cancel_reason::timeout;
  fin.release = true;
  fin.refund = true;
  fin.expect_payment = payment_state::approved;
  fin.timeline = {timeline_kind::deadline_expired,
                  timeline_kind::status_cancelled};
  CAF_CHECK_EQUAL(write(fin), write_outcome::applied);
  auto all = strings{"order.created",     "payment.result",
                     "inventory.result",  "order.status.changed",
                     "inventory.release", "payment.refund"};
  CAF_CHECK_EQUAL(target.outbox_topics(a), all);
  // Refused, duplicate and stale writes add no event.
  CAF_CHECK_EQUAL(write(pay(a, "pay-1")), write_outcome::duplicate);
  CAF_CHECK_EQUAL(write(reserve(a, "res-1", "SKU-C", 2, 10)),
                  write_outcome::duplicate);
  CAF_CHECK_EQUAL(write(fin), write_outcome::stale);
  target.claim("node-b");
  auto fenced = step(a, "late");
  fenced.expect_status = order_status::cancelled;
  fenced.expect_payment = payment_state::approved;
  fenced.final_status = order_status::confirmed;
  CAF_CHECK_EQUAL(write(fenced), write_outcome::fenced);
  CAF_CHECK_EQUAL(target.outbox_topics(a), all);
  CAF_CHECK_EQUAL(target.order_status(a), "CANCELLED");
  CAF_CHECK_EQUAL(target.stock("SKU-C"), 8);
}

CAF_TEST(every line of an order is reserved or none) {
  auto a = order_of(uuid(1), {{"SKU-M1", 2}, {"SKU-M2", 3}, {"SKU-M3", 1}});
  auto b = order_of(uuid(2), {{"SKU-M3", 1}, {"SKU-M2", 3}, {"SKU-M1", 2}});
  create(a);
  create(b);
  CAF_CHECK_EQUAL(write(reserve_lines(a, "res-a", 5)), write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-M1"), 3);
  CAF_CHECK_EQUAL(target.stock("SKU-M2"), 2);
  CAF_CHECK_EQUAL(target.stock("SKU-M3"), 4);
  CAF_CHECK_EQUAL(target.inventory_outcomes(a.order_id),
                  std::vector<cancel_reason>{cancel_reason::none});
  CAF_CHECK(target.short_skus(a.order_id).empty());
  // SKU-M2 has 2 of 3: nothing is taken, not even the lines that would fit.
  CAF_CHECK_EQUAL(write(reserve_lines(b, "res-b", 5)), write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-M1"), 3);
  CAF_CHECK_EQUAL(target.stock("SKU-M2"), 2);
  CAF_CHECK_EQUAL(target.stock("SKU-M3"), 4);
  CAF_CHECK_EQUAL(target.inventory_outcomes(b.order_id),
                  std::vector<cancel_reason>{cancel_reason::out_of_stock});
  CAF_CHECK_EQUAL(target.outbox_topics(b.order_id),
                  (strings{"order.created", "inventory.result"}));
  // A redelivery under another event id reserves nothing twice.
  CAF_CHECK_EQUAL(write(reserve_lines(a, "res-a2", 5)), write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-M1"), 3);
  CAF_CHECK_EQUAL(target.stock("SKU-M2"), 2);
}

CAF_TEST(out of stock names every SKU that was short) {
  auto a = order_of(uuid(1), {{"SKU-N1", 4}, {"SKU-N2", 1}, {"SKU-N3", 6}});
  create(a);
  CAF_CHECK_EQUAL(write(reserve_lines(a, "res-a", 3)), write_outcome::applied);
  CAF_CHECK_EQUAL(target.inventory_outcomes(a.order_id),
                  std::vector<cancel_reason>{cancel_reason::out_of_stock});
  CAF_CHECK_EQUAL(target.short_skus(a.order_id), (strings{"SKU-N1", "SKU-N3"}));
  CAF_CHECK_EQUAL(target.timeline(a.order_id),
                  (strings{"created", "inventory.short"}));
  // New SKUs are seeded with the default stock, none of it taken.
  CAF_CHECK_EQUAL(target.stock("SKU-N1"), 3);
  CAF_CHECK_EQUAL(target.stock("SKU-N2"), 3);
  CAF_CHECK_EQUAL(target.stock("SKU-N3"), 3);
}

CAF_TEST(every reserved line is released exactly once) {
  auto a = order_of(uuid(1), {{"SKU-P2", 2}, {"SKU-P1", 3}});
  create(a);
  write(reserve_lines(a, "res-a", 10));
  CAF_CHECK_EQUAL(target.stock("SKU-P1"), 7);
  CAF_CHECK_EQUAL(target.stock("SKU-P2"), 8);
  // The command names only the first line: the store releases what it
  // reserved.
  release_cmd rel{what(a.order_id, "rel-1", "SKU-P2", 5)};
  CAF_CHECK_EQUAL(write(rel), write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-P1"), 10);
  CAF_CHECK_EQUAL(target.stock("SKU-P2"), 10);
  CAF_CHECK_EQUAL(write(rel), write_outcome::duplicate);
  rel.what.event_id = "rel-2";
  CAF_CHECK_EQUAL(write(rel), write_outcome::applied);
  CAF_CHECK_EQUAL(target.stock("SKU-P1"), 10);
  CAF_CHECK_EQUAL(target.stock("SKU-P2"), 10);
  CAF_CHECK_EQUAL(target.timeline(a.order_id),
                  (strings{"created", "inventory.released"}));
}

CAF_TEST(orders whose lines overlap in any order all reserve) {
  // Lines in opposite orders, all at once through two nodes' stores: stock
  // rows are locked in SKU order, so no reserve fails (a deadlock would
  // refuse one).
  using lines_spec = std::vector<std::pair<std::string, int32_t>>;
  lines_spec up{{"SKU-V1", 1}, {"SKU-V2", 1}, {"SKU-V3", 1}};
  lines_spec down{{"SKU-V3", 1}, {"SKU-V2", 1}, {"SKU-V1", 1}};
  // Every SKU exists before the race: seeding is another story.
  auto seed = order_of(uuid(99), up);
  create(seed);
  write(reserve_lines(seed, "res-seed", 100));
  std::vector<create_order> orders;
  for (int i = 0; i < 20; ++i) {
    orders.push_back(order_of(uuid(100 + i), i % 2 == 0 ? up : down));
    create(orders.back());
  }
  caf::scoped_actor self{target.sys};
  auto other = target.store("node-b");
  using handle
    = decltype(self->request(store, std::chrono::seconds(30), reserve_cmd{}));
  std::vector<handle> pending;
  for (size_t i = 0; i < orders.size(); ++i)
    pending.push_back(self->request(
      i % 3 == 0 ? other : store, std::chrono::seconds(30),
      reserve_lines(orders[i], "res-" + orders[i].order_id, 100)));
  size_t applied = 0;
  for (auto& h : pending)
    h.receive([&](write_outcome x) { applied += x == write_outcome::applied; },
              [&](caf::error& e) {
                CAF_FAIL("a reserve failed: " << describe(e));
              });
  CAF_CHECK_EQUAL(applied, orders.size());
  for (auto sku : {"SKU-V1", "SKU-V2", "SKU-V3"})
    CAF_CHECK_EQUAL(target.stock(sku), 100 - 1 - 20);
}

CAF_TEST(an order with a repeated SKU is refused by the store) {
  auto a = order_of(uuid(1), {{"SKU-Q", 1}, {"SKU-Q", 2}});
  auto r = try_ask<created_order>(store, a);
  CAF_CHECK(!r);
  CAF_CHECK(has_code(r.error(), troupe_errc::storage_rejected));
  CAF_CHECK_EQUAL(target.order_status(a.order_id), "");
}

CAF_TEST(the read side shows orders in the shapes the HTTP API serves) {
  using json = nlohmann::json;
  auto keys = [](const json& x) {
    std::set<std::string> out;
    for (auto& [k, v] : x.items())
      out.insert(k);
    return out;
  };
  auto kinds = [](const json& o) {
    strings out;
    for (auto& t : o["timeline"])
      out.push_back(t["kind"].get<std::string>());
    return out;
  };
  auto reservations = [](const json& o) {
    strings out;
    for (auto& i : o["items"])
      out.push_back(i["reservation"].is_null()
                      ? "null"
                      : i["reservation"].get<std::string>());
    return out;
  };
  auto is_time = [](const json& x) {
    static const std::regex iso{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"};
    return x.is_string() && std::regex_match(x.get<std::string>(), iso);
  };
  // a: two lines reserved, paid, CONFIRMED; b: a line short of stock.
  auto a = order_of(uuid(1), {{"SKU-R1", 2}, {"SKU-R2", 1}});
  a.idempotency_key = "ref-a";
  create(a);
  auto b = order_of(uuid(2), {{"SKU-R1", 5}, {"SKU-R3", 1}});
  create(b);
  CAF_CHECK_EQUAL(write(reserve_lines(a, "res-a", 4)), write_outcome::applied);
  CAF_CHECK_EQUAL(write(reserve_lines(b, "res-b", 4)), write_outcome::applied);
  auto w = step(a.order_id, "inv-a");
  w.payment_status = payment_state::approved;
  w.inventory_status = inventory_state::reserved;
  w.final_status = order_status::confirmed;
  w.timeline = {timeline_kind::payment_approved,
                timeline_kind::inventory_reserved,
                timeline_kind::status_confirmed};
  CAF_CHECK_EQUAL(write(w), write_outcome::applied);
  dead_letter d{"payment.result",
                1,
                7,
                b.order_id,
                "{junk",
                "not JSON",
                2,
                "2026-01-02T03:04:05.006Z",
                "2026-01-02T03:04:07.008Z",
                "corr-x",
                "orchestrator"};
  CAF_CHECK_EQUAL(write(d), write_outcome::applied);

  auto reads = target.reads();
  auto oa = reads->get_order(a.order_id);
  CAF_REQUIRE(oa.has_value());
  CAF_CHECK_EQUAL(keys(*oa), (std::set<std::string>{"id",
                                                    "customer_email",
                                                    "item_sku",
                                                    "quantity",
                                                    "amount_cents",
                                                    "status",
                                                    "reason",
                                                    "correlation_id",
                                                    "payment_status",
                                                    "inventory_status",
                                                    "created_at",
                                                    "updated_at",
                                                    "finalized_at",
                                                    "deadline_at",
                                                    "items",
                                                    "ref",
                                                    "cancel_requested_at",
                                                    "trace_id",
                                                    "timeline",
                                                    "dead_letters"}));
  CAF_CHECK_EQUAL((*oa)["status"], "CONFIRMED");
  CAF_CHECK((*oa)["reason"].is_null());
  CAF_CHECK_EQUAL((*oa)["payment_status"], "APPROVED");
  CAF_CHECK_EQUAL((*oa)["inventory_status"], "RESERVED");
  CAF_CHECK_EQUAL((*oa)["ref"], "ref-a");
  CAF_CHECK_EQUAL((*oa)["quantity"], 3);
  CAF_CHECK_EQUAL((*oa)["amount_cents"], 300);
  CAF_CHECK(is_time((*oa)["created_at"]) && is_time((*oa)["updated_at"])
            && is_time((*oa)["finalized_at"]) && is_time((*oa)["deadline_at"]));
  CAF_CHECK((*oa)["cancel_requested_at"].is_null());
  CAF_CHECK((*oa)["trace_id"].is_null());
  CAF_CHECK_EQUAL(reservations(*oa), (strings{"RESERVED", "RESERVED"}));
  CAF_CHECK_EQUAL((*oa)["items"][0], (json{{"sku", "SKU-R1"},
                                           {"quantity", 2},
                                           {"unit_price_cents", 100},
                                           {"amount_cents", 200},
                                           {"reservation", "RESERVED"}}));
  CAF_CHECK_EQUAL(kinds(*oa),
                  (strings{"created", "payment.approved", "inventory.reserved",
                           "status.CONFIRMED"}));
  CAF_CHECK_EQUAL((*oa)["timeline"][0]["detail"], (json{{"item_sku", "SKU-R1"},
                                                        {"quantity", 3},
                                                        {"amount_cents", 300},
                                                        {"lines", 2}}));
  CAF_CHECK(is_time((*oa)["timeline"][0]["at"]));
  CAF_CHECK_EQUAL((*oa)["dead_letters"], json::array());

  auto ob = reads->get_order(b.order_id);
  CAF_REQUIRE(ob.has_value());
  CAF_CHECK_EQUAL((*ob)["status"], "NEW");
  CAF_CHECK((*ob)["finalized_at"].is_null());
  CAF_CHECK((*ob)["ref"].is_null());
  CAF_CHECK_EQUAL(reservations(*ob), (strings{"SHORT", "null"}));
  CAF_CHECK_EQUAL(kinds(*ob),
                  (strings{"created", "inventory.short", "dead_lettered"}));
  CAF_CHECK_EQUAL((*ob)["timeline"][1]["detail"],
                  (json{{"skus", json::array({"SKU-R1"})}}));
  CAF_CHECK_EQUAL((*ob)["timeline"][2]["detail"],
                  (json{{"topic", "payment.result"},
                        {"consumer", "orchestrator"},
                        {"attempts", 2},
                        {"error", "not JSON"}}));
  CAF_REQUIRE_EQUAL((*ob)["dead_letters"].size(), 1u);
  auto dl = (*ob)["dead_letters"][0];
  CAF_CHECK_EQUAL(keys(dl), (std::set<std::string>{
                              "id", "topic", "partition", "offset", "error",
                              "attempts", "first_failure", "last_failure",
                              "consumer", "redriven_at"}));
  CAF_CHECK_EQUAL(dl["first_failure"], "2026-01-02T03:04:05.006Z");
  CAF_CHECK_EQUAL(dl["offset"], 7);
  CAF_CHECK(!reads->get_order(uuid(9)).has_value());

  CAF_CHECK_EQUAL(reads->list_orders("", 10, "ref-a").size(), 1u);
  auto confirmed = reads->list_orders("CONFIRMED", 10, "");
  CAF_REQUIRE_EQUAL(confirmed.size(), 1u);
  CAF_CHECK_EQUAL(confirmed[0]["id"], a.order_id);
  CAF_CHECK_EQUAL(reads->list_orders("", 10, "").size(), 2u);
  CAF_CHECK_EQUAL(reads->list_orders("", 1, "").size(), 1u);
  auto both = reads->get_orders({a.order_id, b.order_id, uuid(9)});
  CAF_CHECK_EQUAL(both.size(), 2u);
  CAF_CHECK_EQUAL(keys(both[0]).count("timeline"), 0u);

  auto letters = reads->list_dead_letters(10);
  CAF_REQUIRE_EQUAL(letters.size(), 1u);
  CAF_CHECK_EQUAL(
    keys(letters[0]),
    (std::set<std::string>{"id", "topic", "partition", "offset", "key",
                           "payload", "error", "attempts", "first_failure",
                           "last_failure", "correlation_id", "consumer",
                           "created_at", "redriven_at", "exact"}));
  CAF_CHECK_EQUAL(letters[0]["key"], b.order_id);
  CAF_CHECK_EQUAL(letters[0]["payload"], "{junk");
  CAF_CHECK_EQUAL(letters[0]["exact"], true);
  CAF_CHECK(letters[0]["redriven_at"].is_null());
  auto id = letters[0]["id"].get<int64_t>();
  CAF_CHECK(!reads->redrive_dead_letter(id + 100));
  CAF_CHECK(reads->redrive_dead_letter(id));
  auto redriven = reads->list_dead_letters(10);
  CAF_CHECK(is_time(redriven[0]["redriven_at"]));
  auto topics_b = target.outbox_topics(b.order_id);
  CAF_CHECK_EQUAL(topics_b.back(), "payment.result");
  CAF_CHECK_EQUAL(reads->list_set_aside(10), json::array());
  // Nothing was published: every outbox row is in the backlog.
  auto [backlog, age] = reads->outbox_backlog();
  CAF_CHECK_EQUAL(
    backlog, static_cast<int64_t>(target.outbox_topics(a.order_id).size()
                                  + target.outbox_topics(b.order_id).size()));
  CAF_CHECK_GREATER_OR_EQUAL(age, 0.0);
}

CAF_TEST(every command run again after its commit answers what is now true) {
  // What the group-commit core does after a commit whose outcome is
  // unknown: it runs every command of the batch again alone.
  auto a = uuid(1), b = uuid(2), c = uuid(3), n = uuid(4);
  create(order(a));
  create(order(b));
  create(order(c));
  CAF_REQUIRE_EQUAL(write(pay(b, "pay-b")), write_outcome::applied);
  CAF_REQUIRE_EQUAL(write(reserve(b, "res-b", "SKU-R", 2, 10)),
                    write_outcome::applied);
  auto fresh = order(n, 2, 1500, 30000, "key-n");
  cancel_order cancel{a};
  auto step_c = step(c, "inv-c");
  step_c.inventory_status = inventory_state::reserved;
  step_c.timeline = {timeline_kind::inventory_reserved};
  dead_letter letter{"payment.result",
                     1,
                     9,
                     a,
                     "{junk",
                     "not JSON",
                     1,
                     "2026-01-02T03:04:05.006Z",
                     "2026-01-02T03:04:05.006Z",
                     "corr-x",
                     "orchestrator"};
  std::vector<std::pair<std::string, std::function<write_outcome()>>> writes{
    {"payment", [&] { return write(pay(c, "pay-c")); }},
    {"refund", [&] { return write(refund_cmd{what(b, "ref-b")}); }},
    {"reserve", [&] { return write(reserve(c, "res-c", "SKU-R", 3, 10)); }},
    {"release",
     [&] { return write(release_cmd{what(b, "rel-b", "SKU-R", 2)}); }},
    {"notify",
     [&] {
       return write(notify_cmd{
         status_changed{"st-b", b, "corr-" + b, order_status::cancelled,
                        cancel_reason::timeout, "c@example.com"}});
     }},
    {"analytics",
     [&] {
       return write(analytics_cmd{order_created{
         "an-n", n, "corr-" + n, "c@example.com", "SKU-C", 2, 1500}});
     }},
    {"saga write", [&] { return write(step_c); }},
    {"dead letter", [&] { return write(letter); }},
  };
  auto rows = [&] {
    std::string out;
    for (auto& id : {a, b, c, n}) {
      for (auto& t : target.outbox_topics(id))
        out += "outbox " + id + " " + t + "\n";
      for (auto& t : target.timeline(id))
        out += "timeline " + id + " " + t + "\n";
      out += "status " + id + " " + target.order_status(id) + "\n";
    }
    out += "stock " + std::to_string(target.stock("SKU-R")) + "\n";
    out += "dead letters " + std::to_string(target.dead_letters()) + "\n";
    return out;
  };
  // The commit.
  CAF_CHECK(create(fresh).created);
  CAF_CHECK(ask<cancel_answer>(store, cancel).recorded);
  for (auto& [kind, run] : writes) {
    CAF_MESSAGE(kind);
    CAF_CHECK_EQUAL(run(), write_outcome::applied);
  }
  auto committed = rows();
  // Each again, alone.
  auto again = create(fresh);
  CAF_CHECK_EQUAL(again.order_id, n);
  CAF_CHECK(again.created); // made by the commit that was in doubt
  auto cancelled = ask<cancel_answer>(store, cancel);
  CAF_CHECK(cancelled.found);
  CAF_CHECK(cancelled.recorded);
  for (auto& [kind, run] : writes) {
    CAF_MESSAGE(kind);
    CAF_CHECK_EQUAL(run(), write_outcome::duplicate);
  }
  // Nothing was applied twice.
  CAF_CHECK_EQUAL(rows(), committed);
  CAF_CHECK_EQUAL(target.stock("SKU-R"), 10 - 3);
  // A retry note notes an attempt: run again, it notes it again.
  retry_note note{c, "payment", "order.created", 1, 100, "boom"};
  CAF_CHECK_EQUAL(write(note), write_outcome::applied);
  CAF_CHECK_EQUAL(write(note), write_outcome::applied);
  auto tl = target.timeline(c);
  CAF_CHECK_EQUAL(std::count(tl.begin(), tl.end(), "retry"), 2);
}

CAF_TEST_FIXTURE_SCOPE_END()
