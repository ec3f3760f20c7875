// Group-committing PostgreSQL shards behind the store port.
#include "adapters/postgres/pg_store.hpp"

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "actors/commands.hpp"
#include "adapters/postgres/connection.hpp"
#include "adapters/postgres/pg_errors.hpp"
#include "base/errors.hpp"
#include "base/utf8.hpp"
#include "envelope/events.hpp"
#include "observability/log.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

// -- SQL --------------------------------------------------------------------

void prepare_statements(pqxx::connection& c) {
  c.prepare("processed", "INSERT INTO processed_events (consumer, event_id) "
                         "VALUES ($1, $2) ON CONFLICT DO NOTHING");
  c.prepare("unprocess", "DELETE FROM processed_events "
                         "WHERE consumer = $1 AND event_id = $2");
  c.prepare("outbox", "INSERT INTO outbox (topic, key, payload, headers) "
                      "VALUES ($1, $2, $3, $4::jsonb)");
  c.prepare("timeline", "INSERT INTO order_timeline (order_id, kind, detail) "
                        "VALUES ($1::uuid, $2, $3::jsonb)");
  c.prepare("timeline_known",
            "INSERT INTO order_timeline (order_id, kind, detail) "
            "SELECT id, $2, $3::jsonb FROM orders WHERE id = $1::uuid");
  c.prepare("timeline_many",
            "INSERT INTO order_timeline (order_id, kind, detail) "
            "SELECT $1::uuid, k, CASE WHEN k LIKE 'status.%' AND $3 <> '' "
            "THEN jsonb_build_object('reason', $3) ELSE '{}'::jsonb END "
            "FROM unnest($2::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n");
  c.prepare("outbox_many",
            "INSERT INTO outbox (topic, key, payload, headers) "
            "SELECT t, $1, p, h::jsonb FROM unnest($2::text[], $3::text[], "
            "$4::text[]) WITH ORDINALITY AS x(t, p, h, n) ORDER BY n");
  // One statement per command where possible: the order, its timeline entry
  // and its event are written together or not at all.
  c.prepare(
    "create_order",
    "WITH o AS (INSERT INTO orders (id, customer_email, item_sku, "
    "quantity, amount_cents, correlation_id, idempotency_key, "
    "deadline_at) VALUES ($1::uuid, $2, $3, $4, $5, $6, "
    "NULLIF($7, ''), clock_timestamp() + $8 * interval '1 millisecond') "
    "ON CONFLICT DO NOTHING RETURNING id), "
    "t AS (INSERT INTO order_timeline (order_id, kind, detail) "
    "SELECT id, 'created', $9::jsonb FROM o), "
    "b AS (INSERT INTO outbox (topic, key, payload, headers) "
    "SELECT 'order.created', $1, $10, $11::jsonb FROM o) "
    "SELECT count(*) FROM o");
  // After a conflict: the order this very command created (a re-run after a
  // commit whose outcome was unknown) or the one of an earlier request with
  // the same idempotency key.
  c.prepare(
    "existing_order",
    "SELECT id::text, correlation_id, status, id = $1::uuid FROM orders "
    "WHERE id = $1::uuid OR idempotency_key = NULLIF($2, '') "
    "ORDER BY id = $1::uuid DESC LIMIT 1");
  c.prepare("payment",
            "WITH p AS (INSERT INTO processed_events (consumer, event_id) "
            "VALUES ('payment', $1) ON CONFLICT DO NOTHING RETURNING 1), "
            "x AS (INSERT INTO payments (order_id, approved, reason, "
            "amount_cents) SELECT $2::uuid, $3, NULLIF($4, ''), $5 FROM p "
            "ON CONFLICT (order_id) DO NOTHING), "
            "b AS (INSERT INTO outbox (topic, key, payload, headers) "
            "SELECT 'payment.result', $2, $6, $7::jsonb FROM p) "
            "SELECT count(*) FROM p");
  c.prepare("refund", "UPDATE payments SET refunded_at = clock_timestamp() "
                      "WHERE order_id = $1::uuid AND approved "
                      "AND refunded_at IS NULL RETURNING amount_cents");
  c.prepare("seed_stock", "INSERT INTO stock (sku, available) VALUES ($1, $2) "
                          "ON CONFLICT (sku) DO NOTHING");
  c.prepare("reservation_of",
            "SELECT status FROM reservations WHERE order_id = $1::uuid");
  c.prepare("take_stock", "UPDATE stock SET available = available - $2 "
                          "WHERE sku = $1 AND available >= $2 "
                          "RETURNING available");
  c.prepare("reserve", "INSERT INTO reservations (order_id, sku, quantity, "
                       "status) VALUES ($1::uuid, $2, $3, 'RESERVED')");
  c.prepare("release", "UPDATE reservations SET status = 'RELEASED', "
                       "released_at = clock_timestamp() "
                       "WHERE order_id = $1::uuid AND status = 'RESERVED' "
                       "RETURNING sku, quantity");
  c.prepare("return_stock",
            "UPDATE stock SET available = available + $2 WHERE sku = $1");
  c.prepare("notify",
            "WITH p AS (INSERT INTO processed_events (consumer, event_id) "
            "VALUES ('notification', $1) ON CONFLICT DO NOTHING RETURNING 1), "
            "n AS (INSERT INTO notifications (order_id, status, reason, "
            "recipient) SELECT $2::uuid, $3, NULLIF($4, ''), $5 FROM p "
            "ON CONFLICT DO NOTHING), "
            "t AS (INSERT INTO order_timeline (order_id, kind, detail) "
            "SELECT $2::uuid, 'notification.sent', $6::jsonb FROM p) "
            "SELECT count(*) FROM p");
  c.prepare("analytics",
            "WITH p AS (INSERT INTO processed_events (consumer, event_id) "
            "VALUES ('analytics', $1) ON CONFLICT DO NOTHING RETURNING 1), "
            "a AS (INSERT INTO analytics_sku_daily AS a (day, sku, orders, "
            "quantity, amount_cents) SELECT current_date, $2, 1, $3, $4 FROM p "
            "ON CONFLICT (day, sku) DO UPDATE SET orders = a.orders + 1, "
            "quantity = a.quantity + EXCLUDED.quantity, "
            "amount_cents = a.amount_cents + EXCLUDED.amount_cents) "
            "SELECT count(*) FROM p");
  c.prepare("fence", "SELECT 1 FROM partition_owners WHERE kafka_partition "
                     "= $1 AND generation = $2 FOR SHARE");
  c.prepare("saga_update",
            "UPDATE orders SET "
            "payment_status = COALESCE(NULLIF($2, ''), payment_status), "
            "inventory_status = COALESCE(NULLIF($3, ''), inventory_status), "
            "status = CASE WHEN $4 <> '' THEN $4 ELSE status END, "
            "reason = CASE WHEN $4 <> '' THEN NULLIF($5, '') ELSE reason END, "
            "finalized_at = CASE WHEN $4 <> '' THEN clock_timestamp() "
            "ELSE finalized_at END, updated_at = clock_timestamp() "
            "WHERE id = $1::uuid AND status = $6 "
            "AND COALESCE(payment_status, '') = $7 "
            "AND COALESCE(inventory_status, '') = $8 "
            "RETURNING customer_email, item_sku, quantity, amount_cents");
  const char* snapshot_cols
    = "SELECT id::text, correlation_id, customer_email, item_sku, quantity, "
      "amount_cents, status, COALESCE(reason, ''), "
      "COALESCE(payment_status, ''), COALESCE(inventory_status, ''), "
      "(EXTRACT(EPOCH FROM (deadline_at - clock_timestamp())) * 1000)::bigint, "
      "(EXTRACT(EPOCH FROM created_at) * 1000)::bigint "
      "FROM orders ";
  c.prepare("load_saga", std::string{snapshot_cols} + "WHERE id = $1::uuid");
  c.prepare("open_sagas",
            std::string{snapshot_cols}
              + "WHERE status = 'NEW' AND ($1 < 0 OR deadline_at < "
                "clock_timestamp() + $1 * interval '1 millisecond') "
                "ORDER BY deadline_at LIMIT $2");
  c.prepare("dead_letter",
            "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, "
            "key, payload, error, attempts, first_failure, last_failure, "
            "correlation_id, consumer, key_raw, payload_raw) VALUES ($1, $2, "
            "$3, $4, $5, $6, $7, $8::timestamptz, $9::timestamptz, "
            "NULLIF($10, ''), $11, NULLIF(decode($12, 'hex'), ''::bytea), "
            "NULLIF(decode($13, 'hex'), ''::bytea)) ON CONFLICT DO NOTHING");
  c.prepare("outbox_raw",
            "INSERT INTO outbox (topic, key, payload, headers, key_raw, "
            "payload_raw) VALUES ($1, $2, $3, $4::jsonb, "
            "NULLIF(decode($5, 'hex'), ''::bytea), "
            "NULLIF(decode($6, 'hex'), ''::bytea))");
}

bool mark_processed(pqxx::work& tx, const char* consumer,
                    const std::string& event_id) {
  return tx.exec_prepared("processed", consumer, event_id).affected_rows() > 0;
}

void emit(pqxx::work& tx, const char* type, const std::string& order_id,
          const std::string& correlation_id, json payload) {
  auto ev = events::make(type, order_id, correlation_id, std::move(payload));
  tx.exec_prepared("outbox", type, order_id, ev.text,
                   events::headers(type, correlation_id));
}

void timeline(pqxx::work& tx, const std::string& order_id,
              const std::string& kind, json detail = json::object()) {
  tx.exec_prepared("timeline", order_id, kind, detail.dump());
}

/// A PostgreSQL array literal of text elements.
std::string pg_array(const std::vector<std::string>& xs) {
  std::string out = "{";
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i > 0)
      out += ',';
    out += '"';
    for (char ch : xs[i]) {
      if (ch == '"' || ch == '\\')
        out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

saga_snapshot to_snapshot(const pqxx::row& r) {
  saga_snapshot s;
  s.order_id = r[0].as<std::string>();
  s.correlation_id = r[1].as<std::string>();
  s.customer_email = r[2].as<std::string>();
  s.sku = r[3].as<std::string>();
  s.quantity = r[4].as<int32_t>();
  s.amount_cents = r[5].as<int64_t>();
  s.status = r[6].as<std::string>();
  s.reason = r[7].as<std::string>();
  s.payment_status = r[8].as<std::string>();
  s.inventory_status = r[9].as<std::string>();
  s.deadline_in_ms = r[10].as<int64_t>();
  s.created_at_ms = r[11].as<int64_t>();
  s.found = true;
  return s;
}

// -- command execution ------------------------------------------------------

created_order exec(pqxx::work& tx, const create_order& c) {
  auto ev = events::make(events::order_created, c.order_id, c.correlation_id,
                         {{"customer_email", c.customer_email},
                          {"item_sku", c.sku},
                          {"quantity", c.quantity},
                          {"amount_cents", c.amount_cents}});
  json detail{{"item_sku", c.sku},
              {"quantity", c.quantity},
              {"amount_cents", c.amount_cents}};
  auto r = tx.exec_prepared1(
    "create_order", c.order_id, c.customer_email, c.sku, c.quantity,
    c.amount_cents, c.correlation_id, c.idempotency_key, c.deadline_ms,
    detail.dump(), ev.text,
    events::headers(events::order_created, c.correlation_id));
  if (r[0].as<int64_t>() == 0) {
    auto existing = tx.exec_prepared1("existing_order", c.order_id,
                                      c.idempotency_key);
    return created_order{existing[0].as<std::string>(),
                         existing[1].as<std::string>(),
                         existing[2].as<std::string>(), existing[3].as<bool>()};
  }
  return created_order{c.order_id, c.correlation_id, "NEW", true};
}

write_outcome exec(pqxx::work& tx, const payment_cmd& c) {
  json payload{{"approved", c.approved}, {"amount_cents", c.amount_cents}};
  payload["reason"] = c.reason.empty() ? json() : json(c.reason);
  auto ev = events::make(events::payment_result, c.order_id, c.correlation_id,
                         std::move(payload));
  auto r = tx.exec_prepared1(
    "payment", c.event_id, c.order_id, c.approved, c.reason, c.amount_cents,
    ev.text, events::headers(events::payment_result, c.correlation_id));
  return r[0].as<int64_t>() > 0 ? write_outcome::applied
                                : write_outcome::duplicate;
}

write_outcome exec(pqxx::work& tx, const refund_cmd& c) {
  if (!mark_processed(tx, "payment", c.what.event_id))
    return write_outcome::duplicate;
  auto r = tx.exec_prepared("refund", c.what.order_id);
  if (!r.empty())
    timeline(tx, c.what.order_id, "payment.refunded",
             {{"amount_cents", r[0][0].as<int64_t>()}});
  return write_outcome::applied;
}

write_outcome exec(pqxx::work& tx, const reserve_cmd& c) {
  if (!mark_processed(tx, "inventory", c.event_id))
    return write_outcome::duplicate;
  std::string failure = c.reason;
  if (failure.empty()) {
    // Stock is reserved at most once per order, whatever the redeliveries.
    auto existing = tx.exec_prepared("reservation_of", c.order_id);
    if (existing.empty()) {
      auto taken = tx.exec_prepared("take_stock", c.sku, c.quantity);
      if (taken.empty()) {
        // A SKU not seen before starts with the default stock. Whether this
        // transaction seeded it or a concurrent one did (the insert then
        // waits for that one's commit), the next statement sees the row.
        tx.exec_prepared("seed_stock", c.sku, c.default_stock);
        taken = tx.exec_prepared("take_stock", c.sku, c.quantity);
      }
      if (taken.empty())
        failure = "out_of_stock";
      else
        tx.exec_prepared("reserve", c.order_id, c.sku, c.quantity);
    } else if (existing[0][0].as<std::string>() != "RESERVED") {
      failure = "out_of_stock";
    }
  }
  json payload{{"reserved", failure.empty()},
               {"item_sku", c.sku},
               {"quantity", c.quantity}};
  payload["reason"] = failure.empty() ? json() : json(failure);
  emit(tx, events::inventory_result, c.order_id, c.correlation_id,
       std::move(payload));
  return write_outcome::applied;
}

write_outcome exec(pqxx::work& tx, const release_cmd& c) {
  if (!mark_processed(tx, "inventory", c.what.event_id))
    return write_outcome::duplicate;
  auto r = tx.exec_prepared("release", c.what.order_id);
  if (!r.empty()) {
    auto sku = r[0][0].as<std::string>();
    auto qty = r[0][1].as<int32_t>();
    tx.exec_prepared("return_stock", sku, qty);
    timeline(tx, c.what.order_id, "inventory.released",
             {{"item_sku", sku}, {"quantity", qty}});
  }
  return write_outcome::applied;
}

write_outcome exec(pqxx::work& tx, const notify_cmd& c) {
  json detail{{"channel", "email"}, {"status", c.what.status}};
  auto r = tx.exec_prepared1("notify", c.what.event_id, c.what.order_id,
                             c.what.status, c.what.reason,
                             c.what.customer_email, detail.dump());
  return r[0].as<int64_t>() > 0 ? write_outcome::applied
                                : write_outcome::duplicate;
}

write_outcome exec(pqxx::work& tx, const analytics_cmd& c) {
  auto r = tx.exec_prepared1("analytics", c.what.event_id, c.what.sku,
                             c.what.quantity, c.what.amount_cents);
  return r[0].as<int64_t>() > 0 ? write_outcome::applied
                                : write_outcome::duplicate;
}

/// The fence of the shard running the current batch (set per shard).
thread_local partition_fence* current_fence = nullptr;

write_outcome exec(pqxx::work& tx, const saga_write& w) {
  if (current_fence != nullptr) {
    if (auto tok = current_fence->token(w.order_id)) {
      if (tx.exec_prepared("fence", tok->first, tok->second).empty())
        return write_outcome::fenced;
    }
  }
  if (!w.event_id.empty() && !mark_processed(tx, "orchestrator", w.event_id))
    return write_outcome::duplicate;
  // Conditional on the state the plan assumed: a write planned from a stale
  // snapshot changes nothing and answers `stale`, and its sender reloads.
  auto r = tx.exec_prepared("saga_update", w.order_id, w.payment_status,
                            w.inventory_status, w.final_status, w.reason,
                            w.expect_status, w.expect_payment,
                            w.expect_inventory);
  if (r.empty()) {
    if (!w.event_id.empty())
      tx.exec_prepared("unprocess", "orchestrator", w.event_id);
    return write_outcome::stale;
  }
  auto email = r[0][0].as<std::string>();
  auto sku = r[0][1].as<std::string>();
  auto qty = r[0][2].as<int32_t>();
  auto amount = r[0][3].as<int64_t>();
  if (!w.timeline.empty())
    tx.exec_prepared("timeline_many", w.order_id, pg_array(w.timeline),
                     w.reason);
  std::vector<std::string> topics, payloads, headers;
  auto add = [&](const char* type, json payload) {
    auto ev = events::make(type, w.order_id, w.correlation_id,
                           std::move(payload));
    topics.emplace_back(type);
    payloads.push_back(std::move(ev.text));
    headers.push_back(events::headers(type, w.correlation_id));
  };
  if (!w.final_status.empty()) {
    json payload{{"status", w.final_status},
                 {"previous_status", "NEW"},
                 {"customer_email", email}};
    payload["reason"] = w.reason.empty() ? json() : json(w.reason);
    add(events::status_changed, std::move(payload));
  }
  if (w.release)
    add(events::inventory_release, {{"item_sku", sku}, {"quantity", qty}});
  if (w.refund)
    add(events::payment_refund, {{"amount_cents", amount}});
  if (!topics.empty())
    tx.exec_prepared("outbox_many", w.order_id, pg_array(topics),
                     pg_array(payloads), pg_array(headers));
  return write_outcome::applied;
}

saga_snapshot exec(pqxx::work& tx, const load_saga& c) {
  auto r = tx.exec_prepared("load_saga", c.order_id);
  if (r.empty()) {
    saga_snapshot s;
    s.order_id = c.order_id;
    return s;
  }
  return to_snapshot(r[0]);
}

std::vector<saga_snapshot> exec(pqxx::work& tx, const list_open_sagas& c) {
  std::vector<saga_snapshot> result;
  auto r = tx.exec_prepared("open_sagas", c.within_ms, c.limit);
  result.reserve(r.size());
  for (const auto& row : r)
    result.push_back(to_snapshot(row));
  return result;
}

/// The exact bytes of `x` as hex (input of decode(..., 'hex')) when its
/// text rendition differs, else "".
std::string raw_if_needed(const std::string& x, const std::string& shown) {
  if (x == shown)
    return {};
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(x.size() * 2);
  for (unsigned char c : x) {
    out += digits[c >> 4];
    out += digits[c & 0xF];
  }
  return out;
}

write_outcome exec(pqxx::work& tx, const dead_letter& d) {
  // Every field may carry bytes from the outside: text columns get a
  // readable rendition, the key and payload also their exact bytes.
  auto key = utf8::escape(d.key);
  auto payload = utf8::escape(d.payload);
  auto error = utf8::escape(d.error);
  auto topic = utf8::escape(d.topic);
  auto corr = utf8::escape(d.correlation_id);
  auto key_raw = raw_if_needed(d.key, key);
  auto payload_raw = raw_if_needed(d.payload, payload);
  auto r = tx.exec_prepared("dead_letter", topic, d.partition, d.offset, key,
                            payload, error, d.attempts, d.first_failure,
                            d.last_failure, corr, d.consumer, key_raw,
                            payload_raw);
  if (r.affected_rows() == 0)
    return write_outcome::duplicate;
  auto headers = json::object();
  for (auto& [k, v] : events::dead_letter_headers(d))
    headers[k] = v;
  tx.exec_prepared("outbox_raw", topic + ".dlq", key, payload, headers.dump(),
                   key_raw, payload_raw);
  if (events::is_uuid(d.key))
    tx.exec_prepared("timeline_known", d.key, "dead_lettered",
                     json{{"topic", topic},
                          {"consumer", d.consumer},
                          {"attempts", d.attempts},
                          {"error", error}}
                       .dump());
  return write_outcome::applied;
}

/// Notes a failed attempt on the order's timeline (when the key is one).
write_outcome exec(pqxx::work& tx, const retry_note& n) {
  if (!events::is_uuid(n.key))
    return write_outcome::stale;
  tx.exec_prepared("timeline_known", n.key, "retry",
                   json{{"topic", utf8::escape(n.topic)},
                        {"consumer", n.consumer},
                        {"attempt", n.attempt},
                        {"delay_ms", n.delay_ms},
                        {"error", utf8::escape(n.error)}}
                     .dump());
  return write_outcome::applied;
}

// -- shards -----------------------------------------------------------------

/// One command waiting for the next transaction of its shard.
struct pg_job {
  /// Runs inside the transaction; returns what to deliver after the commit.
  std::function<std::function<void()>(pqxx::work&)> run;
  std::function<void(const caf::error&)> fail;
};

template <class Cmd>
using reply_of
  = decltype(exec(std::declval<pqxx::work&>(), std::declval<const Cmd&>()));

template <class Cmd>
pg_job make_job(caf::typed_response_promise<reply_of<Cmd>> rp, Cmd cmd) {
  pg_job job;
  job.run = [rp, cmd = std::move(cmd)](pqxx::work& tx) mutable {
    auto reply = exec(tx, cmd);
    return std::function<void()>{[rp, reply = std::move(reply)]() mutable {
      rp.deliver(std::move(reply));
    }};
  };
  job.fail = [rp](const caf::error& err) mutable { rp.deliver(err); };
  return job;
}

struct shard_state {
  static inline const char* name = "pg_shard";
  pg_settings cfg;
  int32_t index = 0;
  std::unique_ptr<pg_connection> conn;
  std::deque<pg_job> queue;
  bool flush_scheduled = false;
};

using shard_ptr = caf::stateful_actor<shard_state>*;

bool ensure_connection(shard_ptr self) {
  return self->state.conn->get() != nullptr;
}

/// Runs `jobs` in one transaction. On success delivers every reply.
/// Returns an error without delivering anything on failure.
caf::error run_batch(shard_ptr self, std::deque<pg_job>& jobs) {
  auto& conn = *self->state.conn->get();
  current_fence = self->state.cfg.fence.get();
  std::vector<std::function<void()>> replies;
  replies.reserve(jobs.size());
  try {
    pqxx::work tx{conn};
    for (auto& job : jobs)
      replies.emplace_back(job.run(tx));
    tx.commit();
  } catch (const std::exception& e) {
    auto failure = classify_pg(e);
    if (failure.connection_lost || !conn.is_open())
      self->state.conn->reset();
    return std::move(failure.error);
  }
  for (auto& f : replies)
    f();
  return caf::none;
}

void flush(shard_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  while (!st.queue.empty()) {
    std::deque<pg_job> batch;
    auto n = std::min<size_t>(st.queue.size(), st.cfg.max_batch);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(st.queue.front()));
      st.queue.pop_front();
    }
    if (!ensure_connection(self)) {
      auto err = make_error(troupe_errc::storage_unavailable,
                            "PostgreSQL is unreachable");
      for (auto& job : batch)
        job.fail(err);
      continue;
    }
    auto err = run_batch(self, batch);
    if (!err)
      continue;
    auto tier = tier_of(err);
    if (has_code(err, troupe_errc::commit_unknown)) {
      // The batch may have committed. Every command is idempotent, so run
      // each again on a fresh connection: each answers what is now true
      // (an order created by the lost commit is reported as created).
      log::warn("postgres",
                "shard {}: commit of {} command(s) unknown ({}); "
                "re-running them one by one",
                st.index, batch.size(), describe(err));
    } else if (batch.size() == 1 || !st.conn->is_open()
               || tier == error_tier::outage) {
      for (auto& job : batch)
        job.fail(err);
      continue;
    } else {
      // One command spoiled the batch: isolate it by running each on its own.
      log::warn("postgres",
                "shard {}: batch of {} failed ({}), retrying one "
                "by one",
                st.index, batch.size(), describe(err));
    }
    for (auto& job : batch) {
      std::deque<pg_job> single;
      single.push_back(std::move(job));
      if (!ensure_connection(self)) {
        single.front().fail(make_error(troupe_errc::storage_unavailable,
                                       "PostgreSQL is unreachable"));
        continue;
      }
      if (auto e = run_batch(self, single))
        single.front().fail(e);
    }
  }
}

template <class Cmd>
caf::typed_response_promise<reply_of<Cmd>> enqueue(shard_ptr self, Cmd cmd) {
  auto rp = self->make_response_promise<reply_of<Cmd>>();
  self->state.queue.push_back(make_job(rp, std::move(cmd)));
  if (!self->state.flush_scheduled) {
    // Everything already in the mailbox joins this batch: the flush message
    // queues up behind it.
    self->state.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
  return rp;
}

caf::behavior pg_shard(shard_ptr self, pg_settings cfg, int32_t index) {
  self->state.cfg = std::move(cfg);
  self->state.index = index;
  self->state.conn = std::make_unique<pg_connection>(
    self->state.cfg.url, "shard " + std::to_string(index), prepare_statements);
  ensure_connection(self);
  return {
    [=](flush_atom) { flush(self); },
    [=](create_order& x) { return enqueue(self, std::move(x)); },
    [=](payment_cmd& x) { return enqueue(self, std::move(x)); },
    [=](refund_cmd& x) { return enqueue(self, std::move(x)); },
    [=](reserve_cmd& x) { return enqueue(self, std::move(x)); },
    [=](release_cmd& x) { return enqueue(self, std::move(x)); },
    [=](notify_cmd& x) { return enqueue(self, std::move(x)); },
    [=](analytics_cmd& x) { return enqueue(self, std::move(x)); },
    [=](saga_write& x) { return enqueue(self, std::move(x)); },
    [=](load_saga& x) { return enqueue(self, std::move(x)); },
    [=](list_open_sagas& x) { return enqueue(self, std::move(x)); },
    [=](dead_letter& x) { return enqueue(self, std::move(x)); },
    [=](retry_note& x) { return enqueue(self, std::move(x)); },
  };
}

// -- router -----------------------------------------------------------------

struct router_state {
  static inline const char* name = "pg_store";
  std::vector<caf::actor> shards;
  size_t next = 0;
};

caf::behavior pg_router(caf::stateful_actor<router_state>* self,
                        std::vector<caf::actor> shards) {
  self->state.shards = std::move(shards);
  for (auto& shard : self->state.shards)
    self->link_to(shard);
  auto by_key = [=](const std::string& key) -> const caf::actor& {
    auto& s = self->state.shards;
    return s[std::hash<std::string>{}(key) % s.size()];
  };
  auto any = [=]() -> const caf::actor& {
    auto& st = self->state;
    return st.shards[st.next++ % st.shards.size()];
  };
  return {
    [=](create_order& x) {
      auto& key = x.idempotency_key.empty() ? x.order_id : x.idempotency_key;
      return self->delegate(by_key(key), std::move(x));
    },
    [=](payment_cmd& x) {
      return self->delegate(by_key(x.order_id), std::move(x));
    },
    [=](refund_cmd& x) {
      return self->delegate(by_key(x.what.order_id), std::move(x));
    },
    [=](reserve_cmd& x) { return self->delegate(by_key(x.sku), std::move(x)); },
    [=](release_cmd& x) {
      return self->delegate(by_key(x.what.sku), std::move(x));
    },
    [=](notify_cmd& x) {
      return self->delegate(by_key(x.what.order_id), std::move(x));
    },
    [=](analytics_cmd& x) {
      return self->delegate(by_key(x.what.sku), std::move(x));
    },
    [=](saga_write& x) {
      return self->delegate(by_key(x.order_id), std::move(x));
    },
    [=](load_saga& x) {
      return self->delegate(by_key(x.order_id), std::move(x));
    },
    [=](list_open_sagas& x) { return self->delegate(any(), std::move(x)); },
    [=](dead_letter& x) { return self->delegate(by_key(x.key), std::move(x)); },
    [=](retry_note& x) { return self->delegate(by_key(x.key), std::move(x)); },
  };
}

} // namespace

caf::actor spawn_pg_store(caf::actor_system& sys, const pg_settings& cfg) {
  std::vector<caf::actor> shards;
  for (int32_t i = 0; i < std::max(1, cfg.pool_size); ++i)
    shards.push_back(sys.spawn<caf::detached>(pg_shard, cfg, i));
  return sys.spawn(pg_router, std::move(shards));
}

store_actor as_store(const caf::actor& pg_store) {
  return caf::actor_cast<store_actor>(pg_store);
}

} // namespace troupe
