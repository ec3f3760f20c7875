// SQL of the read side.
#include "adapters/postgres/queries.hpp"
#include "adapters/postgres/connection.hpp"

#include <pqxx/pqxx>

namespace troupe {

namespace {

using json = nlohmann::json;

constexpr const char* iso = "YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"";

std::string ts(const char* col) {
  return std::string{"to_char("} + col + " AT TIME ZONE 'UTC', '" + iso + "')";
}

/// The order's lines as a JSON array, each with its reservation state:
/// RESERVED or RELEASED (its reservation row), SHORT (named short of stock
/// on the timeline), else null (not reserved: pending, or the order failed
/// for another reason).
const std::string lines_col
  = "(SELECT COALESCE(json_agg(json_build_object('sku', l.sku, 'quantity', "
    "l.quantity, 'unit_price_cents', l.unit_price_cents, 'amount_cents', "
    "l.amount_cents, 'reservation', COALESCE(r.status, CASE WHEN EXISTS ("
    "SELECT 1 FROM order_timeline t WHERE t.order_id = l.order_id AND "
    "t.kind = 'inventory.short' AND t.detail->'skus' ? l.sku) THEN 'SHORT' "
    "END)) ORDER BY l.line_no), '[]') FROM order_lines l LEFT JOIN "
    "reservations r ON r.order_id = l.order_id AND r.sku = l.sku "
    "WHERE l.order_id = orders.id)::text";

const std::string order_cols
  = "id::text, customer_email, item_sku, quantity, amount_cents, status, "
    "reason, correlation_id, payment_status, inventory_status, "
    + ts("created_at") + ", " + ts("updated_at") + ", " + ts("finalized_at")
    + ", " + ts("deadline_at") + ", " + lines_col + ", idempotency_key, "
    + ts("cancel_requested_at") + ", substring(traceparent from 4 for 32)";

json nullable(const pqxx::field& f) {
  return f.is_null() ? json() : json(f.as<std::string>());
}

json order_json(const pqxx::row& r) {
  return json{{"id", r[0].as<std::string>()},
              {"customer_email", r[1].as<std::string>()},
              {"item_sku", r[2].as<std::string>()},
              {"quantity", r[3].as<int64_t>()},
              {"amount_cents", r[4].as<int64_t>()},
              {"status", r[5].as<std::string>()},
              {"reason", nullable(r[6])},
              {"correlation_id", r[7].as<std::string>()},
              {"payment_status", nullable(r[8])},
              {"inventory_status", nullable(r[9])},
              {"created_at", r[10].as<std::string>()},
              {"updated_at", r[11].as<std::string>()},
              {"finalized_at", nullable(r[12])},
              {"deadline_at", r[13].as<std::string>()},
              {"items", json::parse(r[14].as<std::string>())},
              {"ref", nullable(r[15])},
              {"cancel_requested_at", nullable(r[16])},
              {"trace_id", nullable(r[17])}};
}

} // namespace

order_queries::order_queries(std::string url, size_t max_connections)
  : url_(std::move(url)), max_(std::max<size_t>(1, max_connections)) {
}

order_queries::~order_queries() = default;

std::unique_ptr<pqxx::connection> order_queries::acquire() {
  std::unique_lock<std::mutex> guard{mtx_};
  cv_.wait(guard, [this] { return !idle_.empty() || open_ < max_; });
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return conn;
  }
  ++open_;
  guard.unlock();
  try {
    return pg_connect(url_, "queries");
  } catch (...) {
    guard.lock();
    --open_;
    cv_.notify_one();
    throw;
  }
}

void order_queries::release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (conn && conn->is_open())
    idle_.push_back(std::move(conn));
  else
    --open_;
  cv_.notify_one();
}

/// Borrows a connection; a connection that broke is not returned.
struct order_queries::lease {
  order_queries& pool;
  std::unique_ptr<pqxx::connection> conn;
  explicit lease(order_queries& p) : pool(p), conn(p.acquire()) {
  }
  ~lease() {
    pool.release(std::move(conn));
  }
};

template <class F>
auto order_queries::with_connection(F f) {
  lease l{*this};
  try {
    return f(*l.conn);
  } catch (const pqxx::broken_connection&) {
    l.conn.reset(); // a broken connection is not returned to the pool
    throw;
  }
}

std::optional<json> order_queries::get_order(const std::string& id) {
  return with_connection([&](pqxx::connection& conn) -> std::optional<json> {
    pqxx::read_transaction tx{conn};
    auto r = tx.exec("SELECT " + order_cols
                     + " FROM orders WHERE id = " + tx.quote(id) + "::uuid");
    if (r.empty())
      return std::nullopt;
    auto result = order_json(r[0]);
    auto tl = tx.exec("SELECT " + ts("at")
                      + ", kind, detail::text FROM "
                        "order_timeline WHERE order_id = "
                      + tx.quote(id) + "::uuid ORDER BY id");
    auto& arr = result["timeline"] = json::array();
    for (const auto& row : tl)
      arr.push_back({{"at", row[0].as<std::string>()},
                     {"kind", row[1].as<std::string>()},
                     {"detail", json::parse(row[2].as<std::string>())}});
    // Messages about this order that could not be processed (keyed by the
    // order id), so its page can show why a step is missing.
    auto dl = tx.exec("SELECT id, topic, kafka_partition, kafka_offset, "
                      "error, attempts, "
                      + ts("first_failure") + ", " + ts("last_failure")
                      + ", consumer, " + ts("redriven_at")
                      + " FROM dead_letters WHERE key = " + tx.quote(id)
                      + " ORDER BY id");
    auto& dead = result["dead_letters"] = json::array();
    for (const auto& row : dl)
      dead.push_back({{"id", row[0].as<int64_t>()},
                      {"topic", row[1].as<std::string>()},
                      {"partition", row[2].as<int64_t>()},
                      {"offset", row[3].as<int64_t>()},
                      {"error", row[4].as<std::string>()},
                      {"attempts", row[5].as<int64_t>()},
                      {"first_failure", row[6].as<std::string>()},
                      {"last_failure", row[7].as<std::string>()},
                      {"consumer", row[8].as<std::string>()},
                      {"redriven_at", nullable(row[9])}});
    return result;
  });
}

json order_queries::list_orders(const std::string& status, int limit,
                                const std::string& ref) {
  return with_connection([&](pqxx::connection& conn) {
    pqxx::read_transaction tx{conn};
    std::string sql = "SELECT " + order_cols + " FROM orders WHERE true";
    if (!status.empty())
      sql += " AND status = " + tx.quote(status);
    if (!ref.empty())
      sql += " AND idempotency_key = " + tx.quote(ref);
    sql += " ORDER BY created_at DESC, id LIMIT " + std::to_string(limit);
    auto r = tx.exec(sql);
    auto result = json::array();
    for (const auto& row : r)
      result.push_back(order_json(row));
    return result;
  });
}

json order_queries::get_orders(const std::vector<std::string>& ids) {
  return with_connection([&](pqxx::connection& conn) {
    pqxx::read_transaction tx{conn};
    std::string list;
    for (auto& id : ids) {
      if (!list.empty())
        list += ',';
      list += tx.quote(id);
    }
    auto result = json::array();
    if (list.empty())
      return result;
    auto r = tx.exec("SELECT " + order_cols + " FROM orders WHERE id IN ("
                     + list + ")");
    for (const auto& row : r)
      result.push_back(order_json(row));
    return result;
  });
}

json order_queries::list_dead_letters(int limit) {
  return with_connection([&](pqxx::connection& conn) {
    pqxx::read_transaction tx{conn};
    auto r = tx.exec(
      "SELECT id, topic, kafka_partition, kafka_offset, key, "
      "payload, error, attempts, "
      + ts("first_failure") + ", " + ts("last_failure")
      + ", correlation_id, consumer, " + ts("created_at") + ", "
      + ts("redriven_at") + ", key_raw IS NULL AND payload_raw IS NULL"
      + " FROM dead_letters ORDER BY id DESC LIMIT " + std::to_string(limit));
    auto result = json::array();
    for (const auto& row : r)
      result.push_back({{"id", row[0].as<int64_t>()},
                        {"topic", row[1].as<std::string>()},
                        {"partition", row[2].as<int64_t>()},
                        {"offset", row[3].as<int64_t>()},
                        {"key", nullable(row[4])},
                        {"payload", row[5].as<std::string>()},
                        {"error", row[6].as<std::string>()},
                        {"attempts", row[7].as<int64_t>()},
                        {"first_failure", row[8].as<std::string>()},
                        {"last_failure", row[9].as<std::string>()},
                        {"correlation_id", nullable(row[10])},
                        {"consumer", row[11].as<std::string>()},
                        {"created_at", row[12].as<std::string>()},
                        {"redriven_at", nullable(row[13])},
                        // false: key or payload held bytes that are not
                        // UTF-8, shown as \xNN; the exact bytes are kept
                        {"exact", row[14].as<bool>()}});
    return result;
  });
}

bool order_queries::redrive_dead_letter(int64_t id) {
  return with_connection([&](pqxx::connection& conn) {
    pqxx::work tx{conn};
    auto r = tx.exec(
      "WITH d AS (UPDATE dead_letters SET redriven_at = clock_timestamp() "
      "WHERE id = "
      + std::to_string(id)
      + " RETURNING topic, key, payload, "
        "correlation_id, key_raw, payload_raw) INSERT INTO outbox (topic, key, "
        "payload, key_raw, payload_raw, headers) "
        "SELECT topic, COALESCE(key, ''), payload, key_raw, payload_raw, "
        "jsonb_build_object("
        "'correlation_id', COALESCE(correlation_id, ''), "
        "'troupe.redriven_from', '"
      + std::to_string(id) + "') FROM d RETURNING id");
    tx.commit();
    return !r.empty();
  });
}

std::pair<int64_t, double> order_queries::outbox_backlog() {
  return with_connection([&](pqxx::connection& conn) {
    pqxx::read_transaction tx{conn};
    auto r = tx.exec("SELECT count(*), COALESCE(EXTRACT(EPOCH FROM "
                     "clock_timestamp() - min(created_at)), 0) FROM outbox "
                     "WHERE published_at IS NULL AND set_aside_at IS NULL");
    return std::make_pair(r[0][0].as<int64_t>(), r[0][1].as<double>());
  });
}

json order_queries::list_set_aside(int limit) {
  return with_connection([&](pqxx::connection& conn) {
    pqxx::read_transaction tx{conn};
    auto r
      = tx.exec("SELECT id, topic, key, octet_length(COALESCE(payload_raw, "
                "convert_to(payload, 'UTF8'))), attempts, "
                "COALESCE(last_error, ''), "
                + ts("created_at") + ", " + ts("set_aside_at")
                + " FROM outbox WHERE set_aside_at "
                  "IS NOT NULL ORDER BY set_aside_at DESC LIMIT "
                + std::to_string(limit));
    auto result = json::array();
    for (const auto& row : r)
      result.push_back({{"id", row[0].as<int64_t>()},
                        {"topic", row[1].as<std::string>()},
                        {"key", row[2].as<std::string>()},
                        {"bytes", row[3].as<int64_t>()},
                        {"attempts", row[4].as<int64_t>()},
                        {"error", row[5].as<std::string>()},
                        {"created_at", row[6].as<std::string>()},
                        {"set_aside_at", row[7].as<std::string>()}});
    return result;
  });
}

bool order_queries::ready(int min_version, std::string& why) {
  try {
    lease l{*this};
    try {
      pqxx::read_transaction tx{*l.conn};
      auto r = tx.exec("SELECT COALESCE(max(version), 0) FROM "
                       "schema_migrations");
      auto v = r[0][0].as<int>();
      if (v < min_version) {
        why = "migrations not applied (at " + std::to_string(v) + " of "
              + std::to_string(min_version) + ")";
        return false;
      }
      return true;
    } catch (const pqxx::broken_connection&) {
      l.conn.reset();
      throw;
    }
  } catch (const std::exception& e) {
    why = std::string{"postgres: "} + e.what();
    return false;
  }
}

} // namespace troupe
