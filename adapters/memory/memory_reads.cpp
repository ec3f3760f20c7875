// The read side over the in-memory database (see memory_reads.hpp). Each
// function mirrors its SQL in adapters/postgres/queries.cpp.
#include "adapters/memory/memory_reads.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <set>

#include "actors/vocabulary.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

/// A text column that is NULL when empty.
json text_or_null(const std::string& x) {
  return x.empty() ? json() : json(x);
}

json time_or_null(int64_t ms) {
  return ms == 0 ? json() : json(iso_timestamp(ms));
}

/// The timeline's `detail` as PostgreSQL keeps it (jsonb): counts are
/// numbers, the short SKUs a list, the rest text.
json detail_json(const sim::timeline_row& t) {
  static const std::set<std::string> numbers{
    "quantity", "amount_cents", "lines", "attempts", "attempt", "delay_ms"};
  auto out = json::object();
  for (auto& [k, v] : t.detail) {
    if (numbers.count(k) > 0 && !v.empty()) {
      try {
        out[k] = std::stoll(v);
        continue;
      } catch (const std::exception&) {
        // not a number after all: text
      }
    }
    if (k == "skus" && t.kind == timeline_kind::inventory_short) {
      auto skus = json::array();
      size_t at = 0;
      while (at <= v.size()) {
        auto end = v.find(',', at);
        if (end == std::string::npos)
          end = v.size();
        if (end > at)
          skus.push_back(v.substr(at, end - at));
        at = end + 1;
      }
      out[k] = std::move(skus);
      continue;
    }
    out[k] = v;
  }
  return out;
}

/// The SKUs the timeline names short of stock for `order_id`.
std::set<std::string> short_skus(const sim::memory_db& db,
                                 const std::string& order_id) {
  std::set<std::string> out;
  for (auto& t : db.timeline)
    if (t.order_id == order_id && t.kind == timeline_kind::inventory_short) {
      auto detail = detail_json(t);
      for (auto& s : detail["skus"])
        out.insert(s.get<std::string>());
    }
  return out;
}

/// `lines_col` of queries.cpp: each line with its reservation state.
json items_json(const sim::memory_db& db, const sim::order_row& o) {
  auto r = db.reservations.find(o.order_id);
  std::set<std::string> reserved;
  if (r != db.reservations.end())
    for (auto& l : sim::lines_of(r->second))
      reserved.insert(l.sku);
  std::set<std::string> short_of;
  bool looked = false;
  auto items = json::array();
  for (auto& l : sim::lines_of(o)) {
    json reservation;
    if (reserved.count(l.sku) > 0) {
      reservation = r->second.status == sim::reservation_status::reserved
                      ? "RESERVED"
                      : "RELEASED";
    } else {
      if (!looked) {
        short_of = short_skus(db, o.order_id);
        looked = true;
      }
      if (short_of.count(l.sku) > 0)
        reservation = "SHORT";
    }
    items.push_back({{"sku", l.sku},
                     {"quantity", l.quantity},
                     {"unit_price_cents", l.unit_price_cents},
                     {"amount_cents", l.amount_cents},
                     {"reservation", reservation}});
  }
  return items;
}

/// `order_json` of queries.cpp.
json order_json(const sim::memory_db& db, const sim::order_row& o) {
  // `substring(traceparent from 4 for 32)`: the trace id.
  auto trace = o.traceparent.size() >= 35 ? json(o.traceparent.substr(3, 32))
                                          : json();
  return json{{"id", o.order_id},
              {"customer_email", o.customer_email},
              {"item_sku", o.sku},
              {"quantity", o.quantity},
              {"amount_cents", o.amount_cents},
              {"status", to_string(o.status)},
              {"reason", text_or_null(to_string(o.reason))},
              {"correlation_id", o.correlation_id},
              {"payment_status", text_or_null(to_string(o.payment_status))},
              {"inventory_status", text_or_null(to_string(o.inventory_status))},
              {"created_at", iso_timestamp(o.created_at_ms)},
              {"updated_at", iso_timestamp(o.updated_at_ms)},
              {"finalized_at", time_or_null(o.finalized_at_ms)},
              {"deadline_at", iso_timestamp(o.deadline_at_ms)},
              {"items", items_json(db, o)},
              {"ref", text_or_null(o.idempotency_key)},
              {"cancel_requested_at", o.cancel_requested
                                        ? time_or_null(o.cancel_requested_at_ms)
                                        : json()},
              {"trace_id", trace}};
}

int64_t redriven_at(const sim::memory_db& db, int64_t id) {
  auto i = db.redriven_at_ms.find(id);
  return i == db.redriven_at_ms.end() ? 0 : i->second;
}

int64_t dead_lettered_at(const sim::memory_db& db, int64_t id) {
  auto i = db.dead_lettered_at_ms.find(id);
  return i == db.dead_lettered_at_ms.end() ? db.now() : i->second;
}

} // namespace

std::string iso_timestamp(int64_t ms) {
  auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

memory_reads::memory_reads(std::shared_ptr<sim::memory_db> db)
  : db_(std::move(db)) {
  // nop
}

std::optional<json> memory_reads::get_order(const std::string& id) {
  std::lock_guard<std::mutex> guard{db_->mtx};
  auto& db = *db_;
  auto i = db.orders.find(id);
  if (i == db.orders.end())
    return std::nullopt;
  auto result = order_json(db, i->second);
  auto& tl = result["timeline"] = json::array();
  for (auto& t : db.timeline)
    if (t.order_id == id)
      tl.push_back({{"at", iso_timestamp(t.at_ms)},
                    {"kind", to_string(t.kind)},
                    {"detail", detail_json(t)}});
  auto& dead = result["dead_letters"] = json::array();
  for (size_t k = 0; k < db.dead_letters.size(); ++k) {
    auto& d = db.dead_letters[k];
    if (d.key != id)
      continue;
    auto dl_id = static_cast<int64_t>(k + 1);
    dead.push_back({{"id", dl_id},
                    {"topic", d.topic},
                    {"partition", d.partition},
                    {"offset", d.offset},
                    {"error", d.error},
                    {"attempts", d.attempts},
                    {"first_failure", d.first_failure},
                    {"last_failure", d.last_failure},
                    {"consumer", d.consumer},
                    {"redriven_at", time_or_null(redriven_at(db, dl_id))}});
  }
  return result;
}

json memory_reads::list_orders(const std::string& status, int limit,
                               const std::string& ref) {
  std::lock_guard<std::mutex> guard{db_->mtx};
  auto& db = *db_;
  std::vector<const sim::order_row*> rows;
  for (auto& [id, o] : db.orders)
    if ((status.empty() || status == to_string(o.status))
        && (ref.empty() || ref == o.idempotency_key))
      rows.push_back(&o);
  // ORDER BY created_at DESC, id
  std::sort(rows.begin(), rows.end(), [](auto* x, auto* y) {
    return x->created_at_ms != y->created_at_ms
             ? x->created_at_ms > y->created_at_ms
             : x->order_id < y->order_id;
  });
  auto result = json::array();
  for (auto* o : rows) {
    if (static_cast<int>(result.size()) >= limit)
      break;
    result.push_back(order_json(db, *o));
  }
  return result;
}

json memory_reads::get_orders(const std::vector<std::string>& ids) {
  std::lock_guard<std::mutex> guard{db_->mtx};
  auto result = json::array();
  for (auto& id : ids)
    if (auto i = db_->orders.find(id); i != db_->orders.end())
      result.push_back(order_json(*db_, i->second));
  return result;
}

json memory_reads::list_dead_letters(int limit) {
  std::lock_guard<std::mutex> guard{db_->mtx};
  auto& db = *db_;
  auto result = json::array();
  for (auto k = db.dead_letters.size();
       k > 0 && static_cast<int>(result.size()) < limit; --k) {
    auto& d = db.dead_letters[k - 1];
    auto id = static_cast<int64_t>(k);
    // Text as stored: bytes that are not UTF-8 are escaped as \xNN.
    bool exact = d.key.find("\\x") == std::string::npos
                 && d.payload.find("\\x") == std::string::npos;
    result.push_back({{"id", id},
                      {"topic", d.topic},
                      {"partition", d.partition},
                      {"offset", d.offset},
                      {"key", d.key},
                      {"payload", d.payload},
                      {"error", d.error},
                      {"attempts", d.attempts},
                      {"first_failure", d.first_failure},
                      {"last_failure", d.last_failure},
                      {"correlation_id", text_or_null(d.correlation_id)},
                      {"consumer", d.consumer},
                      {"created_at", iso_timestamp(dead_lettered_at(db, id))},
                      {"redriven_at", time_or_null(redriven_at(db, id))},
                      {"exact", exact}});
  }
  return result;
}

json memory_reads::list_set_aside(int) {
  return json::array();
}

bool memory_reads::redrive_dead_letter(int64_t id) {
  std::lock_guard<std::mutex> guard{db_->mtx};
  auto& db = *db_;
  if (id < 1 || id > static_cast<int64_t>(db.dead_letters.size()))
    return false;
  auto& d = db.dead_letters[static_cast<size_t>(id - 1)];
  db.redriven_at_ms[id] = db.now();
  // Back to its original topic, through the outbox, as received.
  sim::outbox_row row;
  row.id = db.next_outbox_id++;
  row.topic = d.topic;
  row.key = d.key;
  row.payload = d.payload;
  row.correlation_id = d.correlation_id;
  row.created_at_ms = db.now();
  db.outbox.push_back(std::move(row));
  return true;
}

std::pair<int64_t, double> memory_reads::outbox_backlog() {
  std::lock_guard<std::mutex> guard{db_->mtx};
  int64_t n = 0;
  int64_t oldest = 0;
  for (auto& r : db_->outbox)
    if (!r.published) {
      if (n++ == 0)
        oldest = r.created_at_ms;
    }
  auto age = n == 0 ? 0.0 : static_cast<double>(db_->now() - oldest) / 1000.0;
  return {n, std::max(0.0, age)};
}

admission_gate::counter memory_open_orders(std::shared_ptr<sim::memory_db> db) {
  return [db]() -> std::optional<int64_t> {
    std::lock_guard<std::mutex> guard{db->mtx};
    int64_t n = 0;
    for (auto& kv : db->orders)
      n += kv.second.status == order_status::fresh ? 1 : 0;
    return n;
  };
}

} // namespace troupe
