// Set-oriented group commit against a real PostgreSQL: the commands of one
// kind in a batch run as one statement, and each is still applied once and
// answered as it would be alone, duplicates within the batch included.
#define CAF_SUITE group_commit
#include "adapters/postgres/pg_store.hpp"

#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "actors/commands.hpp"
#include "adapters/postgres/migrations.hpp"
#include "envelope/events.hpp"
#include "tests/integration/batch_gate.hpp"
#include "tests/integration/environment.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

std::string one(const std::string& url, const std::string& sql) {
  auto rows = query_column(url, sql);
  return rows.empty() ? "" : rows[0];
}

constexpr int orders = 40;

node_store_actor one_shard_store(caf::actor_system& sys,
                                 const std::string& url) {
  pg_settings pg;
  pg.url = url;
  pg.pool_size = 1;
  return spawn_pg_store(sys, pg);
}

/// Counts `n` answers that `who` got, by `kind` and outcome ("error ..."
/// for a failure).
void collect_answers(caf::scoped_actor& who,
                     std::map<std::string, int>& answers,
                     const std::string& kind, int n) {
  int got = 0;
  who->receive_for(got, n)(
    [&](write_outcome x) { ++answers[kind + " " + to_string(x)]; },
    [&](caf::error& e) { ++answers["error " + to_string(e)]; },
    caf::after(std::chrono::seconds(30)) >> [&] { CAF_FAIL("no answer"); });
}

} // namespace

CAF_TEST(one batch of payments notifications and analytics applies each once) {
  // One shard: what is sent while it waits for a lock is one batch.
  auto url = fresh_database("it_group_commit");
  apply_migrations(url);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto store = one_shard_store(sys, url);
  caf::scoped_actor self{sys};
  std::vector<std::string> ids;
  for (int i = 0; i < orders; ++i) {
    create_order c;
    c.order_id = events::new_uuid();
    c.correlation_id = "corr-" + std::to_string(i);
    c.customer_email = "c" + std::to_string(i) + "@example.com";
    c.lines = {single_line(i % 2 ? "SKU-A" : "SKU-B", 2, 1000),
               single_line("SKU-C", 1, 500)};
    c.sku = c.lines.front().sku;
    c.quantity = total_quantity(c.lines);
    c.amount_cents = total_amount(c.lines);
    self->request(store, std::chrono::seconds(10), c)
      .receive([&](created_order& x) { CAF_CHECK(x.created); },
               [&](caf::error& e) { CAF_FAIL(to_string(e)); });
    ids.push_back(c.order_id);
  }
  // Hold the shard in a transaction that waits for a lock, so that
  // everything sent meanwhile queues up for its next batch. Each kind has
  // its own sender, which gets the answers as plain messages.
  pqxx::connection blocker{url};
  pqxx::work lock{blocker};
  lock.exec("LOCK TABLE processed_events IN EXCLUSIVE MODE");
  caf::scoped_actor first{sys}, pay{sys}, notify{sys}, count{sys}, other{sys};
  first->send(store, payment_cmd{"ev-blocked", ids[0], "corr-0", 1, true});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Each command twice, and the payments a third time under other event
  // ids (a second decision for the same order must not take).
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < orders; ++i) {
      auto& id = ids[i];
      auto n = std::to_string(i);
      status_changed st{"ev-st-" + n,        id,
                        "corr-" + n,         order_status::confirmed,
                        cancel_reason::none, "c" + n + "@example.com"};
      order_created oc{"ev-oc-" + n, id, "corr-" + n, "c@example.com",
                       "SKU-A",      3,  2500};
      oc.lines = {single_line(i % 2 ? "SKU-A" : "SKU-B", 2, 2000),
                  single_line("SKU-C", 1, 500)};
      pay->send(store, payment_cmd{"ev-pay-" + n, id, "corr-" + n, 2500, true});
      notify->send(store, notify_cmd{st});
      count->send(store, analytics_cmd{oc});
    }
  for (int i = 0; i < orders; ++i) {
    auto n = std::to_string(i);
    other->send(store, payment_cmd{"ev-pay-other-" + n, ids[i], "corr-" + n, 9,
                                   false, cancel_reason::payment_declined});
  }
  lock.commit();
  std::map<std::string, int> answers;
  auto collect = [&](caf::scoped_actor& who, const std::string& kind, int n) {
    collect_answers(who, answers, kind, n);
  };
  collect(first, "first", 1);
  collect(pay, "payment", 2 * orders);
  collect(notify, "notify", 2 * orders);
  collect(count, "analytics", 2 * orders);
  collect(other, "other", orders);
  CAF_CHECK_EQUAL(answers["first applied"], 1);
  CAF_CHECK_EQUAL(answers["payment applied"], orders);
  CAF_CHECK_EQUAL(answers["payment duplicate"], orders);
  CAF_CHECK_EQUAL(answers["notify applied"], orders);
  CAF_CHECK_EQUAL(answers["notify duplicate"], orders);
  CAF_CHECK_EQUAL(answers["analytics applied"], orders);
  CAF_CHECK_EQUAL(answers["analytics duplicate"], orders);
  // Its processed_events row is new, so it applies; the payment row of the
  // first decision stays.
  CAF_CHECK_EQUAL(answers["other applied"], orders);
  for (auto& [k, v] : answers)
    CAF_CHECK(k.rfind("error", 0) != 0);
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM payments"),
                  std::to_string(orders));
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM payments WHERE approved "
                           "AND amount_cents = 2500"),
                  std::to_string(orders - 1));
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM notifications"),
                  std::to_string(orders));
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM order_timeline WHERE kind = "
                           "'notification.sent'"),
                  std::to_string(orders));
  // Every order's lines counted once: SKU-C in every order, A and B in half.
  CAF_CHECK_EQUAL(one(url, "SELECT orders || '/' || quantity || '/' || "
                           "amount_cents FROM analytics_sku_daily "
                           "WHERE sku = 'SKU-C'"),
                  std::to_string(orders) + "/" + std::to_string(orders) + "/"
                    + std::to_string(orders * 500));
  CAF_CHECK_EQUAL(one(url, "SELECT orders || '/' || quantity || '/' || "
                           "amount_cents FROM analytics_sku_daily "
                           "WHERE sku = 'SKU-A'"),
                  std::to_string(orders / 2) + "/" + std::to_string(orders)
                    + "/" + std::to_string(orders / 2 * 2000));
  // The outbox holds one payment.result per applied decision, with its
  // trace-free headers and the order as key.
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM outbox WHERE topic = "
                           "'payment.result'"),
                  std::to_string(2 * orders + 1));
  CAF_CHECK_EQUAL(one(url, "SELECT count(DISTINCT key) FROM outbox WHERE "
                           "topic = 'payment.result'"),
                  std::to_string(orders));
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}

CAF_TEST(one batch of saga writes applies each once and refuses stale ones) {
  // One shard: what is sent while it waits for a lock is one batch.
  auto url = fresh_database("it_group_commit_saga");
  apply_migrations(url);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto store = one_shard_store(sys, url);
  caf::scoped_actor self{sys};
  std::vector<std::string> ids;
  for (int i = 0; i < orders; ++i) {
    create_order c;
    c.order_id = events::new_uuid();
    c.correlation_id = "corr-" + std::to_string(i);
    c.customer_email = "c" + std::to_string(i) + "@example.com";
    c.lines = {single_line("SKU-A", 2, 1000), single_line("SKU-B", 1, 500)};
    c.sku = "SKU-A";
    c.quantity = 3;
    c.amount_cents = 1500;
    self->request(store, std::chrono::seconds(10), c)
      .receive([&](created_order& x) { CAF_CHECK(x.created); },
               [&](caf::error& e) { CAF_FAIL(to_string(e)); });
    ids.push_back(c.order_id);
  }
  auto payment_write = [&](int i, const std::string& event) {
    saga_write w;
    w.event_id = event;
    w.order_id = ids[i];
    w.correlation_id = "corr-" + std::to_string(i);
    w.payment_status = payment_state::approved;
    w.timeline = {timeline_kind::payment_approved};
    return w;
  };
  pqxx::connection blocker{url};
  auto lock = std::make_unique<pqxx::work>(blocker);
  lock->exec("LOCK TABLE processed_events IN EXCLUSIVE MODE");
  caf::scoped_actor first{sys}, apply{sys}, again{sys}, stale{sys};
  first->send(store, notify_cmd{status_changed{"ev-block", ids[0], "corr-0",
                                               order_status::confirmed}});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int i = 0; i < orders; ++i) {
    apply->send(store, payment_write(i, "pay-" + std::to_string(i)));
    again->send(store, payment_write(i, "pay-" + std::to_string(i)));
    // Planned against a snapshot in which stock was reserved: it is not.
    auto w = payment_write(i, "late-" + std::to_string(i));
    w.payment_status = payment_state::none;
    w.inventory_status = inventory_state::reserved;
    w.expect_inventory = inventory_state::reserved;
    w.expect_payment = payment_state::approved;
    stale->send(store, w);
  }
  lock->commit();
  std::map<std::string, int> answers;
  auto collect = [&](caf::scoped_actor& who, const std::string& kind, int n) {
    collect_answers(who, answers, kind, n);
  };
  collect(first, "first", 1);
  collect(apply, "apply", orders);
  collect(again, "again", orders);
  collect(stale, "stale", orders);
  CAF_CHECK_EQUAL(answers["apply applied"], orders);
  CAF_CHECK_EQUAL(answers["again duplicate"], orders);
  CAF_CHECK_EQUAL(answers["stale stale"], orders);
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM orders WHERE payment_status "
                           "= 'APPROVED' AND inventory_status IS NULL"),
                  std::to_string(orders));
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM processed_events WHERE "
                           "consumer = 'orchestrator'"),
                  std::to_string(orders)); // the stale ones are not kept
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM order_timeline WHERE kind = "
                           "'payment.approved'"),
                  std::to_string(orders));
  // The decisions, in one batch: cancelled with both compensations.
  lock.reset();
  lock = std::make_unique<pqxx::work>(blocker);
  lock->exec("LOCK TABLE processed_events IN EXCLUSIVE MODE");
  first->send(store, notify_cmd{status_changed{"ev-block-2", ids[0], "corr-0",
                                               order_status::confirmed}});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int i = 0; i < orders; ++i) {
    saga_write w;
    w.event_id = "inv-" + std::to_string(i);
    w.order_id = ids[i];
    w.correlation_id = "corr-" + std::to_string(i);
    w.inventory_status = inventory_state::reserved;
    w.final_status = order_status::cancelled;
    w.reason = cancel_reason::timeout;
    w.release = true;
    w.refund = true;
    w.timeline = {timeline_kind::compensation_release,
                  timeline_kind::compensation_refund,
                  timeline_of(order_status::cancelled)};
    // Every other one was planned from a snapshot that is not the
    // store's: stale, within the same statement as the others.
    w.expect_payment = i % 2 ? payment_state::approved
                             : payment_state::declined;
    apply->send(store, w);
  }
  lock->commit();
  answers.clear();
  collect(first, "first", 1);
  collect(apply, "apply", orders);
  const auto half = std::to_string(orders / 2);
  CAF_CHECK_EQUAL(answers["apply applied"], orders / 2);
  CAF_CHECK_EQUAL(answers["apply stale"], orders / 2);
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM processed_events WHERE "
                           "event_id LIKE 'inv-%'"),
                  half);
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM orders WHERE status = 'NEW' "
                           "AND inventory_status IS NULL"),
                  half);
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM orders WHERE status = "
                           "'CANCELLED' AND reason = 'timeout' AND "
                           "finalized_at IS NOT NULL"),
                  half);
  for (auto topic :
       {"order.status.changed", "inventory.release", "payment.refund"})
    CAF_CHECK_EQUAL(one(url, std::string{"SELECT count(DISTINCT key) FROM "
                                         "outbox WHERE topic = '"}
                               + topic + "'"),
                    half);
  // Each release names the order's lines; each status change its customer.
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM outbox WHERE topic = "
                           "'inventory.release' AND jsonb_array_length("
                           "payload::jsonb->'payload'->'items') = 2"),
                  half);
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM outbox o JOIN orders r ON "
                           "r.id::text = o.key WHERE o.topic = "
                           "'order.status.changed' AND payload::jsonb->"
                           "'payload'->>'customer_email' = r.customer_email"),
                  half);
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM order_timeline t WHERE kind "
                           "= 'status.CANCELLED' AND detail->>'reason' = "
                           "'timeout'"),
                  half);
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}

CAF_TEST(one batch of reservations takes stock in command order) {
  // One shard: what is sent while it waits for a lock is one batch.
  auto url = fresh_database("it_group_commit_stock");
  apply_migrations(url);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto store = one_shard_store(sys, url);
  caf::scoped_actor self{sys};
  constexpr int n = 30;
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    create_order c;
    c.order_id = events::new_uuid();
    c.correlation_id = "corr-" + std::to_string(i);
    c.customer_email = "c@example.com";
    c.lines = {single_line("SKU-A", 2, 1000), single_line("SKU-B", 1, 500)};
    c.sku = "SKU-A";
    c.quantity = 3;
    c.amount_cents = 1500;
    self->request(store, std::chrono::seconds(10), c)
      .receive([&](created_order& x) { CAF_CHECK(x.created); },
               [&](caf::error& e) { CAF_FAIL(to_string(e)); });
    ids.push_back(c.order_id);
  }
  caf::scoped_actor first{sys}, reserve{sys}, again{sys};
  batch_gate gate{url, first, store, ids[0]};
  // 25 units of each SKU: 12 orders get their 2 of SKU-A, the rest is short
  // of it; the third one failed its rule already and takes nothing.
  for (int i = 0; i < n; ++i) {
    reserve_cmd c;
    c.event_id = "oc-" + std::to_string(i);
    c.order_id = ids[i];
    c.correlation_id = "corr-" + std::to_string(i);
    c.sku = "SKU-A";
    c.quantity = 3;
    c.default_stock = 25;
    c.lines = {single_line("SKU-A", 2, 1000), single_line("SKU-B", 1, 500)};
    if (i == 2)
      c.reason = cancel_reason::quantity_limit;
    reserve->send(store, c);
    again->send(store, c);
  }
  gate.open();
  std::map<std::string, int> answers;
  auto collect = [&](caf::scoped_actor& who, const std::string& kind, int n) {
    collect_answers(who, answers, kind, n);
  };
  collect(first, "first", 1);
  collect(reserve, "reserve", n);
  collect(again, "again", n);
  CAF_CHECK_EQUAL(answers["reserve applied"], n);
  CAF_CHECK_EQUAL(answers["again duplicate"], n);
  CAF_CHECK_EQUAL(one(url, "SELECT available FROM stock WHERE sku = 'SKU-A'"),
                  "1");
  CAF_CHECK_EQUAL(one(url, "SELECT available FROM stock WHERE sku = 'SKU-B'"),
                  "13");
  CAF_CHECK_EQUAL(one(url, "SELECT count(DISTINCT order_id) || '/' || "
                           "count(*) || '/' || sum(quantity) FROM "
                           "reservations WHERE status = 'RESERVED'"),
                  "12/24/36");
  // The first twelve orders that could reserve did, in command order.
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM reservations WHERE order_id "
                           "= '"
                             + ids[12] + "'"),
                  "2");
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM reservations WHERE order_id "
                           "= '"
                             + ids[13] + "'"),
                  "0");
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM order_timeline WHERE kind = "
                           "'inventory.short' AND detail->'skus' = "
                           "'[\"SKU-A\"]'::jsonb"),
                  std::to_string(n - 12 - 1));
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) || '/' || count(*) FILTER (WHERE "
                           "(payload::jsonb->'payload'->>'reserved')::bool) "
                           "FROM outbox WHERE topic = 'inventory.result'"),
                  std::to_string(n) + "/12");
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}

CAF_TEST(one batch of new orders creates each reference once) {
  // One shard: what is sent while it waits for a lock is one batch.
  auto url = fresh_database("it_group_commit_orders");
  apply_migrations(url);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto store = one_shard_store(sys, url);
  caf::scoped_actor first{sys}, make{sys};
  batch_gate gate{url, first, store, events::new_uuid()};
  constexpr int n = 20;
  std::vector<create_order> sent;
  for (int i = 0; i < n; ++i) {
    create_order c;
    c.order_id = events::new_uuid();
    c.correlation_id = "corr-" + std::to_string(i);
    c.customer_email = "c@example.com";
    // References 0..9, each twice: the second of a pair finds the first.
    c.idempotency_key = "ref-" + std::to_string(i % (n / 2));
    c.lines = {single_line("SKU-A", 1, 100), single_line("SKU-B", 2, 400)};
    c.sku = "SKU-A";
    c.quantity = 3;
    c.amount_cents = 500;
    make->send(store, c);
    sent.push_back(c);
  }
  // The same command again (a retry after an unknown commit): created.
  make->send(store, sent[0]);
  gate.open();
  int got = 0;
  std::vector<created_order> answers;
  first->receive([](write_outcome) {}, [](caf::error&) {});
  make->receive_for(got, n + 1)([&](created_order& x) { answers.push_back(x); },
                                [&](caf::error& e) { CAF_FAIL(to_string(e)); },
                                caf::after(std::chrono::seconds(30)) >>
                                  [&] { CAF_FAIL("no answer"); });
  CAF_REQUIRE_EQUAL(answers.size(), static_cast<size_t>(n + 1));
  for (int i = 0; i < n; ++i) {
    auto& first_of_pair = sent[i % (n / 2)];
    CAF_CHECK_EQUAL(answers[i].order_id, first_of_pair.order_id);
    CAF_CHECK_EQUAL(answers[i].created, i < n / 2);
  }
  CAF_CHECK_EQUAL(answers[n].order_id, sent[0].order_id);
  CAF_CHECK_EQUAL(answers[n].created, true);
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM orders"),
                  std::to_string(n / 2));
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) || '/' || sum(quantity) FROM "
                           "order_lines"),
                  std::to_string(n) + "/" + std::to_string(3 * n / 2));
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM order_lines WHERE line_no = 2 "
                           "AND sku = 'SKU-B'"),
                  std::to_string(n / 2));
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM outbox WHERE topic = "
                           "'order.created'"),
                  std::to_string(n / 2));
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM order_timeline WHERE kind = "
                           "'created'"),
                  std::to_string(n / 2));
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}

CAF_TEST(reservations with different default stocks in one batch run in order) {
  // The statement seeds unseen SKUs with one default: commands that differ
  // run one at a time, in command order, through the same statements.
  auto url = fresh_database("it_group_commit_defaults");
  apply_migrations(url);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto store = one_shard_store(sys, url);
  caf::scoped_actor self{sys};
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    create_order c;
    c.order_id = events::new_uuid();
    c.correlation_id = "corr-" + std::to_string(i);
    c.customer_email = "c@example.com";
    c.sku = "SKU-N";
    c.quantity = 4 - i;
    c.amount_cents = 1000;
    self->request(store, std::chrono::seconds(10), c)
      .receive([&](created_order& x) { CAF_CHECK(x.created); },
               [&](caf::error& e) { CAF_FAIL(to_string(e)); });
    ids.push_back(c.order_id);
  }
  auto reserve = [&](int i, int64_t default_stock) {
    reserve_cmd c;
    c.event_id = "oc-" + std::to_string(i);
    c.order_id = ids[i];
    c.correlation_id = "corr-" + std::to_string(i);
    c.sku = "SKU-N";
    c.quantity = 4 - i;
    c.default_stock = default_stock;
    return c;
  };
  caf::scoped_actor first{sys}, apply{sys};
  batch_gate gate{url, first, store, ids[0]};
  // The first seeds SKU-N with 5 and takes 4; the second finds 1 left (its
  // default of 100 is for a SKU not seen before); the third is the first
  // again.
  apply->send(store, reserve(0, 5));
  apply->send(store, reserve(1, 100));
  apply->send(store, reserve(0, 5));
  gate.open();
  std::map<std::string, int> answers;
  collect_answers(first, answers, "first", 1);
  collect_answers(apply, answers, "apply", 3);
  CAF_CHECK_EQUAL(answers["apply applied"], 2);
  CAF_CHECK_EQUAL(answers["apply duplicate"], 1);
  CAF_CHECK_EQUAL(one(url, "SELECT available FROM stock WHERE sku = 'SKU-N'"),
                  "1");
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) || '/' || sum(quantity) FROM "
                           "reservations WHERE order_id = '"
                             + ids[0] + "'"),
                  "1/4");
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) FROM reservations WHERE order_id "
                           "= '"
                             + ids[1] + "'"),
                  "0");
  CAF_CHECK_EQUAL(one(url, "SELECT count(*) || '/' || count(*) FILTER (WHERE "
                           "(payload::jsonb->'payload'->>'reserved')::bool) "
                           "FROM outbox WHERE topic = 'inventory.result'"),
                  "2/1");
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}

CAF_TEST(one batch of saga loads answers each order as if loaded alone) {
  auto url = fresh_database("it_group_commit_loads");
  apply_migrations(url);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto store = one_shard_store(sys, url);
  caf::scoped_actor make{sys}, first{sys}, load{sys};
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    create_order c;
    c.order_id = events::new_uuid();
    c.correlation_id = "corr-" + std::to_string(i);
    c.customer_email = "c@example.com";
    c.lines = {single_line("SKU-A", i + 1, 100)};
    c.sku = "SKU-A";
    c.quantity = i + 1;
    c.amount_cents = 100 * (i + 1);
    c.deadline_ms = 60000;
    make->request(store, caf::infinite, c)
      .receive([](created_order&) {},
               [](caf::error& e) { CAF_FAIL(to_string(e)); });
    ids.push_back(c.order_id);
  }
  // One shard: what is sent while it waits for a lock is one batch.
  batch_gate gate{url, first, store, events::new_uuid()};
  auto upper = ids[3];
  for (auto& ch : upper)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  std::vector<std::string> asked = {ids[0],       ids[1], ids[2],
                                    upper,        ids[4], events::new_uuid(),
                                    "not-a-uuid", ids[0]};
  for (auto& id : asked)
    load->send(store, load_saga{id});
  gate.open();
  first->receive([](write_outcome) {}, [](caf::error&) {});
  int got = 0;
  std::vector<saga_snapshot> answers;
  load->receive_for(got, static_cast<int>(asked.size()))(
    [&](saga_snapshot& x) { answers.push_back(x); },
    [&](caf::error& e) { CAF_FAIL(to_string(e)); },
    caf::after(std::chrono::seconds(30)) >> [&] { CAF_FAIL("no answer"); });
  CAF_REQUIRE_EQUAL(answers.size(), asked.size());
  for (size_t i = 0; i < asked.size(); ++i)
    CAF_CHECK_EQUAL(answers[i].order_id, asked[i]);
  for (int i : {0, 1, 2, 3, 4, 7}) {
    auto k = i == 7 ? 0 : i;
    CAF_CHECK(answers[i].found);
    CAF_CHECK_EQUAL(answers[i].quantity, k + 1);
    CAF_CHECK_EQUAL(answers[i].amount_cents, 100 * (k + 1));
    CAF_CHECK_EQUAL(answers[i].correlation_id, "corr-" + std::to_string(k));
    CAF_CHECK(answers[i].status == order_status::fresh);
    CAF_CHECK_GREATER(answers[i].deadline_in_ms, 50000);
  }
  CAF_CHECK(!answers[5].found); // unknown
  CAF_CHECK(!answers[6].found); // not a UUID: no order, not an error
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}
