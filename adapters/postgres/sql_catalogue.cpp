// The SQL catalogue: every statement the store's shards prepare.
#include "adapters/postgres/sql_catalogue.hpp"

#include <string>

#include <pqxx/pqxx>

#include "actors/vocabulary.hpp"

namespace troupe::pg {

namespace {

/// A vocabulary word as an SQL literal (the words need no escaping).
template <class T>
std::string literal(T x) {
  return std::string{"'"} + to_string(x) + "'";
}

} // namespace

void prepare_statements(pqxx::connection& c) {
  c.prepare("processed", "INSERT INTO processed_events (consumer, event_id) "
                         "VALUES ($1, $2) ON CONFLICT DO NOTHING");
  c.prepare("outbox", "INSERT INTO outbox (topic, key, payload, headers) "
                      "VALUES ($1, $2, $3, $4::jsonb)");
  c.prepare("timeline", "INSERT INTO order_timeline (order_id, kind, detail) "
                        "VALUES ($1::uuid, $2, $3::jsonb)");
  c.prepare("timeline_known",
            "INSERT INTO order_timeline (order_id, kind, detail) "
            "SELECT id, $2, $3::jsonb FROM orders WHERE id = $1::uuid");
  // The orders of a batch; lines carry the ordinal of their order.
  c.prepare(
    "create_order_many",
    "WITH x AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
    "$4::int[], $5::bigint[], $6::text[], $7::text[], $8::bigint[], "
    "$9::text[], $10::text[], $11::text[], $12::text[]) WITH ORDINALITY "
    "AS x(id, email, sku, q, amount, corr, idem, dl, detail, payload, "
    "headers, tp, n)), "
    "o AS (INSERT INTO orders (id, customer_email, item_sku, quantity, "
    "amount_cents, correlation_id, idempotency_key, deadline_at, "
    "traceparent) SELECT id::uuid, email, sku, q, amount, corr, "
    "NULLIF(idem, ''), clock_timestamp() + dl * interval '1 millisecond', "
    "NULLIF(tp, '') FROM x ORDER BY n ON CONFLICT DO NOTHING RETURNING id), "
    "l AS (INSERT INTO order_lines (order_id, line_no, sku, quantity, "
    "unit_price_cents, amount_cents) SELECT o.id, y.k, y.s, y.q, y.u, y.a "
    "FROM unnest($13::bigint[], $14::int[], $15::text[], $16::int[], "
    "$17::bigint[], $18::bigint[]) AS y(n, k, s, q, u, a) "
    "JOIN x ON x.n = y.n JOIN o ON o.id = x.id::uuid), "
    "t AS (INSERT INTO order_timeline (order_id, kind, detail) "
    "SELECT o.id, "
      + literal(timeline_kind::created)
      + ", x.detail::jsonb FROM o JOIN x ON x.id::uuid = o.id ORDER BY x.n), "
        "b AS (INSERT INTO outbox (topic, key, payload, headers) "
        "SELECT 'order.created', x.id, x.payload, x.headers::jsonb "
        "FROM o JOIN x ON x.id::uuid = o.id ORDER BY x.n) "
        "SELECT id::text FROM o");
  // After a conflict: the order this very command created (a re-run after a
  // commit whose outcome was unknown) or the one of an earlier request with
  // the same idempotency key.
  c.prepare(
    "existing_order",
    "SELECT id::text, correlation_id, status, id = $1::uuid FROM orders "
    "WHERE id = $1::uuid OR idempotency_key = NULLIF($2, '') "
    "ORDER BY id = $1::uuid DESC LIMIT 1");
  // A cancel request is recorded once, and only while the order is open;
  // the UPDATE waits for a concurrent final write, then sees its status.
  c.prepare("cancel_mark",
            "UPDATE orders SET cancel_requested_at = clock_timestamp(), "
            "updated_at = clock_timestamp() WHERE id = $1::uuid AND status = "
              + literal(order_status::fresh)
              + " AND cancel_requested_at IS NULL RETURNING correlation_id, "
                "COALESCE(traceparent, '')");
  c.prepare("cancel_state",
            "SELECT correlation_id, status, COALESCE(reason, ''), "
            "cancel_requested_at IS NOT NULL FROM orders WHERE id = $1::uuid");
  c.prepare("refund", "UPDATE payments SET refunded_at = clock_timestamp() "
                      "WHERE order_id = $1::uuid AND approved "
                      "AND refunded_at IS NULL RETURNING amount_cents");
  // Stock for every line of an order: SKUs not seen before get the default
  // stock, then the rows are locked in SKU order (two transactions that
  // reserve overlapping SKUs wait for each other instead of deadlocking).
  c.prepare("seed_stock",
            "INSERT INTO stock (sku, available) SELECT s, $2::bigint "
            "FROM unnest($1::text[]) AS s ORDER BY s "
            "ON CONFLICT (sku) DO NOTHING");
  c.prepare("lock_stock", "SELECT sku, available FROM stock "
                          "WHERE sku = ANY($1::text[]) ORDER BY sku "
                          "FOR UPDATE");
  c.prepare("take_stock",
            "UPDATE stock SET available = available - x.q "
            "FROM unnest($1::text[], $2::int[]) AS x(s, q) WHERE sku = x.s");
  // The reservations of a batch: what the orders hold already, then every
  // line reserved, the short ones noted, in one statement each.
  c.prepare("reservations_of_many",
            "SELECT DISTINCT ON (order_id) order_id::text, status "
            "FROM reservations WHERE order_id = ANY($1::uuid[]) "
            "ORDER BY order_id");
  c.prepare("reserve_many",
            "INSERT INTO reservations (order_id, sku, quantity, status) "
            "SELECT o::uuid, s, q, 'RESERVED' "
            "FROM unnest($1::text[], $2::text[], $3::int[]) AS x(o, s, q)");
  c.prepare("timeline_known_many",
            "INSERT INTO order_timeline (order_id, kind, detail) "
            "SELECT o.id, $1, x.d::jsonb FROM unnest($2::text[], $3::text[]) "
            "WITH ORDINALITY AS x(id, d, n) JOIN orders o ON o.id = x.id::uuid "
            "ORDER BY x.n");
  c.prepare("release", "UPDATE reservations SET status = 'RELEASED', "
                       "released_at = clock_timestamp() "
                       "WHERE order_id = $1::uuid AND status = 'RESERVED' "
                       "RETURNING sku, quantity");
  c.prepare("return_stock",
            "UPDATE stock SET available = available + $2 WHERE sku = $1");
  // Set-oriented forms: the commands of one kind in a batch, one statement
  // for all of them (arrays bound as parameters, expanded with unnest). Each
  // command still takes effect only with its processed_events row; the
  // event ids returned are those applied now.
  c.prepare("payment_many",
            "WITH x AS (SELECT * FROM unnest($1::text[], $2::text[], "
            "$3::bool[], $4::text[], $5::bigint[], $6::text[], $7::text[]) "
            "AS x(e, o, a, r, m, p, h)), "
            "p AS (INSERT INTO processed_events (consumer, event_id) "
            "SELECT 'payment', e FROM x ON CONFLICT DO NOTHING "
            "RETURNING event_id), "
            "y AS (INSERT INTO payments (order_id, approved, reason, "
            "amount_cents) SELECT x.o::uuid, x.a, NULLIF(x.r, ''), x.m "
            "FROM x JOIN p ON p.event_id = x.e "
            "ON CONFLICT (order_id) DO NOTHING), "
            "b AS (INSERT INTO outbox (topic, key, payload, headers) "
            "SELECT 'payment.result', x.o, x.p, x.h::jsonb "
            "FROM x JOIN p ON p.event_id = x.e) "
            "SELECT event_id FROM p");
  c.prepare("notify_many",
            "WITH x AS (SELECT * FROM unnest($1::text[], $2::text[], "
            "$3::text[], $4::text[], $5::text[], $6::text[]) "
            "AS x(e, o, s, r, m, d)), "
            "p AS (INSERT INTO processed_events (consumer, event_id) "
            "SELECT 'notification', e FROM x ON CONFLICT DO NOTHING "
            "RETURNING event_id), "
            "n AS (INSERT INTO notifications (order_id, status, reason, "
            "recipient) SELECT x.o::uuid, x.s, NULLIF(x.r, ''), x.m "
            "FROM x JOIN p ON p.event_id = x.e ON CONFLICT DO NOTHING), "
            "t AS (INSERT INTO order_timeline (order_id, kind, detail) "
            "SELECT x.o::uuid, "
              + literal(timeline_kind::notification_sent)
              + ", x.d::jsonb FROM x JOIN p ON p.event_id = x.e) "
                "SELECT event_id FROM p");
  // Lines carry the ordinal of their command; a SKU's figures are summed
  // over the batch first (one upsert per SKU and statement), and the rows
  // are taken in SKU order: two shards whose batches share SKUs wait for
  // each other instead of deadlocking.
  c.prepare("analytics_many",
            "WITH x AS (SELECT * FROM unnest($1::text[]) WITH ORDINALITY "
            "AS x(e, n)), "
            "p AS (INSERT INTO processed_events (consumer, event_id) "
            "SELECT 'analytics', e FROM x ON CONFLICT DO NOTHING "
            "RETURNING event_id), "
            "a AS (INSERT INTO analytics_sku_daily AS a (day, sku, orders, "
            "quantity, amount_cents) SELECT current_date, l.s, count(*), "
            "sum(l.q), sum(l.a) FROM unnest($2::bigint[], $3::text[], "
            "$4::int[], $5::bigint[]) AS l(n, s, q, a) "
            "JOIN x ON x.n = l.n JOIN p ON p.event_id = x.e GROUP BY l.s "
            "ORDER BY l.s ON CONFLICT (day, sku) DO UPDATE SET "
            "orders = a.orders + EXCLUDED.orders, "
            "quantity = a.quantity + EXCLUDED.quantity, "
            "amount_cents = a.amount_cents + EXCLUDED.amount_cents) "
            "SELECT event_id FROM p");
  // The saga writes of a batch: the idempotency rows of their events, the
  // conditional updates (a write whose snapshot is stale matches no row),
  // their timelines and their events, one statement each.
  c.prepare("processed_many",
            "INSERT INTO processed_events (consumer, event_id) "
            "SELECT $1, e FROM unnest($2::text[]) AS e ON CONFLICT DO NOTHING "
            "RETURNING event_id");
  c.prepare("unprocess_many", "DELETE FROM processed_events WHERE consumer = "
                              "$1 AND event_id = ANY($2::text[])");
  c.prepare("saga_update_many",
            "UPDATE orders AS o SET "
            "payment_status = COALESCE(NULLIF(x.p, ''), o.payment_status), "
            "inventory_status = COALESCE(NULLIF(x.i, ''), o.inventory_status), "
            "status = CASE WHEN x.f <> '' THEN x.f ELSE o.status END, "
            "reason = CASE WHEN x.f <> '' THEN NULLIF(x.r, '') "
            "ELSE o.reason END, "
            "finalized_at = CASE WHEN x.f <> '' THEN clock_timestamp() "
            "ELSE o.finalized_at END, updated_at = clock_timestamp() "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
            "$5::text[], $6::text[], $7::text[], $8::text[]) "
            "AS x(id, p, i, f, r, es, ep, ei) "
            "WHERE o.id = x.id::uuid AND o.status = x.es "
            "AND COALESCE(o.payment_status, '') = x.ep "
            "AND COALESCE(o.inventory_status, '') = x.ei "
            "RETURNING o.id::text, o.customer_email, o.item_sku, o.quantity, "
            "o.amount_cents");
  c.prepare("timeline_rows",
            "INSERT INTO order_timeline (order_id, kind, detail) "
            "SELECT o::uuid, k, CASE WHEN k LIKE 'status.%' AND r <> '' "
            "THEN jsonb_build_object('reason', r) ELSE '{}'::jsonb END "
            "FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY "
            "AS t(o, k, r, n) ORDER BY n");
  c.prepare("lines_of_many",
            "SELECT order_id::text, sku, quantity, unit_price_cents, "
            "amount_cents FROM order_lines WHERE order_id = ANY($1::uuid[]) "
            "ORDER BY order_id, line_no");
  c.prepare("outbox_rows",
            "INSERT INTO outbox (topic, key, payload, headers) "
            "SELECT t, k, p, h::jsonb FROM unnest($1::text[], $2::text[], "
            "$3::text[], $4::text[]) WITH ORDINALITY AS x(t, k, p, h, n) "
            "ORDER BY n");
  c.prepare("fence_many",
            "SELECT kafka_partition, generation FROM partition_owners WHERE "
            "(kafka_partition, generation) IN (SELECT * FROM "
            "unnest($1::int[], $2::bigint[])) ORDER BY kafka_partition "
            "FOR SHARE");
  c.prepare("fence", "SELECT 1 FROM partition_owners WHERE kafka_partition "
                     "= $1 AND generation = $2 FOR SHARE");
  const char* snapshot_cols
    = "SELECT id::text, correlation_id, customer_email, item_sku, quantity, "
      "amount_cents, status, COALESCE(reason, ''), "
      "COALESCE(payment_status, ''), COALESCE(inventory_status, ''), "
      "(EXTRACT(EPOCH FROM (deadline_at - clock_timestamp())) * 1000)::bigint, "
      "(EXTRACT(EPOCH FROM created_at) * 1000)::bigint, "
      "COALESCE(traceparent, '') "
      "FROM orders ";
  c.prepare("load_sagas",
            std::string{snapshot_cols} + "WHERE id = ANY($1::uuid[])");
  c.prepare("open_sagas",
            std::string{snapshot_cols}
              + "WHERE status = " + literal(order_status::fresh)
              + " AND ($1 < 0 OR deadline_at < "
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

} // namespace troupe::pg
