// What each store command does to the in-memory database: the effects of
// adapters/postgres/store_commands.cpp and the SQL of sql_catalogue.cpp, row
// by row, including the constraints of migrations/*.sql that the saga's
// commands can hit (a timeline entry needs its order, quantities are at
// least 1, stock never goes below zero).
#include "sim/memory_store.hpp"

#include "base/mutants.hpp"
#include "base/text.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <optional>
#include <type_traits>

#include "actors/rules.hpp"
#include "actors/topics.hpp"
#include "base/errors.hpp"
#include "base/utf8.hpp"

namespace troupe::sim {

// -- the database -------------------------------------------------------------

memory_db::memory_db() {
  clock = [] {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
      .count();
  };
}

int64_t memory_db::now() const {
  return clock ? clock() : 0;
}

order_row& memory_db::add_order(const std::string& id, int64_t deadline_in_ms,
                                int32_t quantity, int64_t amount) {
  auto& o = orders[id];
  o.order_id = id;
  o.correlation_id = "corr-" + id;
  o.customer_email = "c@example.com";
  o.sku = "SKU-1";
  o.quantity = quantity;
  o.amount_cents = amount;
  o.created_at_ms = now();
  o.deadline_at_ms = o.created_at_ms + deadline_in_ms;
  return o;
}

order_lines lines_of(const order_row& o) {
  if (!o.lines.empty())
    return o.lines;
  return {single_line(o.sku, o.quantity, o.amount_cents)};
}

order_lines lines_of(const reservation_row& r) {
  if (!r.lines.empty())
    return r.lines;
  return {single_line(r.sku, r.quantity, 0)};
}

saga_snapshot memory_db::snapshot(const std::string& id) const {
  saga_snapshot s;
  s.order_id = id;
  auto i = orders.find(id);
  if (i == orders.end())
    return s;
  auto& o = i->second;
  s.correlation_id = o.correlation_id;
  s.customer_email = o.customer_email;
  s.sku = o.sku;
  s.quantity = o.quantity;
  s.amount_cents = o.amount_cents;
  s.status = o.status;
  s.reason = o.reason;
  s.payment_status = o.payment_status;
  s.inventory_status = o.inventory_status;
  s.deadline_in_ms = o.deadline_at_ms - now();
  s.created_at_ms = o.created_at_ms;
  s.traceparent = o.traceparent;
  s.found = true;
  return s;
}

size_t memory_db::count_events(const std::string& topic,
                               const std::string& key) const {
  return std::count_if(outbox.begin(), outbox.end(), [&](const outbox_row& r) {
    return r.topic == topic && r.key == key;
  });
}

void memory_db::claim(const std::string& node,
                      const std::vector<int32_t>& parts) {
  std::lock_guard<std::mutex> guard{mtx};
  for (auto p : parts) {
    auto& row = partition_owners[p];
    row.owner = node;
    row.generation += 1;
    claims[node][p] = row.generation;
  }
}

void memory_db::release(const std::string& node,
                        const std::vector<int32_t>& parts) {
  std::lock_guard<std::mutex> guard{mtx};
  auto& known = claims[node];
  for (auto p : parts)
    known.erase(p);
}

std::string memory_db::next_event_id() {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(next_event++));
  return buf;
}

// -- commands -----------------------------------------------------------------

namespace {

/// The reply of a command: a value or an error, or none at all (lost).
template <class T>
struct reply {
  caf::expected<T> value;
  bool lost = false;
  int64_t delay_ms = 0; ///< answered this much later
  reply(T x) : value(std::move(x)) {
  }
  reply(caf::error e) : value(std::move(e)) {
  }
};

caf::error unavailable(const char* what) {
  return make_error(troupe_errc::storage_unavailable, what);
}

/// What PostgreSQL answers for a violated constraint (storage_rejected).
caf::error violates(std::string what) {
  return make_error(troupe_errc::storage_rejected, std::move(what));
}

bool spend(int& counter) {
  if (counter <= 0)
    return false;
  --counter;
  return true;
}

/// Whether this commit's outcome is to be unknown (`unknown_commit_next`,
/// after `unknown_commit_after` commits went through).
bool unknown_commit(fault_plan& faults) {
  if (faults.unknown_commit_next <= 0)
    return false;
  if (faults.unknown_commit_after > 0) {
    --faults.unknown_commit_after;
    return false;
  }
  return spend(faults.unknown_commit_next);
}

/// Whether a write may go ahead (the `fail_next` fault).
bool admit(memory_db& db) {
  return !spend(db.faults.fail_next);
}

/// INSERT INTO processed_events ... ON CONFLICT DO NOTHING.
bool mark_processed(memory_db& db, const char* consumer,
                    const std::string& event_id) {
  return db.processed.emplace(consumer, event_id).second
         || TROUPE_MUTANT("skip-dedup");
}

/// `order_timeline.order_id REFERENCES orders (id)`.
caf::error needs_order(const memory_db& db, const std::string& order_id) {
  if (db.orders.count(order_id) == 0)
    return violates("order_timeline: no order " + order_id);
  return caf::none;
}

void timeline(memory_db& db, const std::string& order_id, timeline_kind kind,
              std::vector<std::pair<std::string, std::string>> detail = {}) {
  db.timeline.push_back(
    timeline_row{order_id, kind, std::move(detail), db.now()});
}

outbox_row& outbox(memory_db& db, const char* topic, const std::string& key,
                   outbox_event ev, const std::string& correlation_id) {
  outbox_row row;
  row.id = db.next_outbox_id++;
  row.topic = topic;
  row.key = key;
  row.event = std::move(ev);
  row.correlation_id = correlation_id;
  row.created_at_ms = db.now();
  db.outbox.push_back(std::move(row));
  return db.outbox.back();
}

/// The constraints of `order_lines`: a quantity of at least 1, prices not
/// negative, one line per SKU.
caf::error check_lines(const order_lines& lines) {
  std::set<std::string> skus;
  for (auto& line : lines) {
    if (line.quantity < 1)
      return violates("order_lines: quantity must be at least 1");
    if (line.unit_price_cents < 0 || line.amount_cents < 0)
      return violates("order_lines: prices must not be negative");
    if (!skus.insert(line.sku).second)
      return violates("order_lines: duplicate key (order_id, sku)");
  }
  return caf::none;
}

/// What `::timestamptz` accepts, as far as Troupe writes it: an ISO 8601
/// date and time (`2026-12-02T17:30:31.042Z`).
bool is_timestamp(const std::string& x) {
  if (x.size() < 19)
    return false;
  for (size_t i = 0; i < 19; ++i) {
    char c = x[i];
    bool ok = (i == 4 || i == 7) ? c == '-'
              : i == 10          ? (c == 'T' || c == ' ')
              : (i == 13 || i == 16)
                ? c == ':'
                : std::isdigit(static_cast<unsigned char>(c)) != 0;
    if (!ok)
      return false;
  }
  return true;
}

reply<created_order> exec(memory_db& db, const memory_store_settings&,
                          const create_order& c) {
  if (!admit(db))
    return unavailable("injected failure");
  // ON CONFLICT DO NOTHING on the id or the idempotency key; then the order
  // this very command created (a re-run) or the one of the earlier request.
  auto same_id = db.orders.find(c.order_id);
  if (same_id != db.orders.end())
    return created_order{c.order_id, same_id->second.correlation_id,
                         to_string(same_id->second.status), true};
  if (!c.idempotency_key.empty()) {
    for (auto& [id, o] : db.orders)
      if (o.idempotency_key == c.idempotency_key)
        return created_order{id, o.correlation_id, to_string(o.status), false};
  }
  if (c.quantity < 1)
    return violates("orders: quantity must be at least 1");
  if (c.amount_cents < 0)
    return violates("orders: amount_cents must not be negative");
  if (auto err = check_lines(lines_of(c)))
    return err;
  auto& o = db.orders[c.order_id];
  o.order_id = c.order_id;
  o.correlation_id = c.correlation_id;
  o.idempotency_key = c.idempotency_key;
  o.customer_email = c.customer_email;
  o.sku = c.sku;
  o.quantity = c.quantity;
  o.amount_cents = c.amount_cents;
  o.lines = lines_of(c);
  o.traceparent = c.traceparent;
  o.created_at_ms = db.now();
  o.updated_at_ms = o.created_at_ms;
  o.deadline_at_ms = o.created_at_ms + c.deadline_ms;
  timeline(db, c.order_id, timeline_kind::created,
           {{"item_sku", c.sku},
            {"quantity", std::to_string(c.quantity)},
            {"amount_cents", std::to_string(c.amount_cents)},
            {"lines", std::to_string(lines_of(o).size())}});
  outbox(db, topics::order_created.name, c.order_id,
         order_created{db.next_event_id(), c.order_id, c.correlation_id,
                       c.customer_email, c.sku, c.quantity, c.amount_cents,
                       lines_of(o), c.traceparent},
         c.correlation_id);
  return created_order{c.order_id, c.correlation_id,
                       to_string(order_status::fresh), true};
}

reply<cancel_answer> exec(memory_db& db, const memory_store_settings&,
                          const cancel_order& c) {
  if (!admit(db))
    return unavailable("injected failure");
  cancel_answer a;
  a.order_id = c.order_id;
  auto i = db.orders.find(c.order_id);
  if (i == db.orders.end())
    return a;
  auto& o = i->second;
  if (o.status == order_status::fresh && !o.cancel_requested) {
    // Marked once, with its event and timeline entry.
    o.cancel_requested = true;
    o.cancel_requested_at_ms = o.updated_at_ms = db.now();
    if (!TROUPE_MUTANT("drop-cancel-event"))
      outbox(db, topics::cancel_requested.name, c.order_id,
             cancel_requested{db.next_event_id(), c.order_id, o.correlation_id,
                              c.traceparent.empty() ? o.traceparent
                                                    : c.traceparent},
             o.correlation_id);
    timeline(db, c.order_id, timeline_kind::cancel_requested);
  }
  a.found = true;
  a.correlation_id = o.correlation_id;
  a.status = o.status;
  a.reason = o.reason;
  a.recorded = o.status == order_status::fresh && o.cancel_requested;
  return a;
}

reply<write_outcome> exec(memory_db& db, const memory_store_settings&,
                          const payment_cmd& c) {
  if (!admit(db))
    return unavailable("injected failure");
  if (!mark_processed(db, "payment", c.event_id))
    return write_outcome::duplicate;
  // ON CONFLICT (order_id) DO NOTHING: the first decision stays.
  db.payments.emplace(c.order_id,
                      payment_row{c.approved, c.reason, c.amount_cents, false});
  auto& row = outbox(db, topics::payment_result.name, c.order_id,
                     payment_result{db.next_event_id(), c.order_id,
                                    c.correlation_id, c.approved, c.reason},
                     c.correlation_id);
  row.amount_cents = c.amount_cents;
  return write_outcome::applied;
}

reply<write_outcome> exec(memory_db& db, const memory_store_settings&,
                          const refund_cmd& c) {
  if (!admit(db))
    return unavailable("injected failure");
  auto& id = c.what.order_id;
  auto p = db.payments.find(id);
  bool refunds = p != db.payments.end() && p->second.approved
                 && !p->second.refunded;
  if (db.processed.count({"payment", c.what.event_id}) > 0)
    return write_outcome::duplicate;
  if (refunds)
    if (auto err = needs_order(db, id))
      return err;
  mark_processed(db, "payment", c.what.event_id);
  if (refunds) {
    p->second.refunded = true;
    timeline(db, id, timeline_kind::payment_refunded,
             {{"amount_cents", std::to_string(p->second.amount_cents)}});
  }
  return write_outcome::applied;
}

/// The SKUs of `lines` that their stock cannot cover. SKUs not seen before
/// get the default stock (`INSERT ... ON CONFLICT DO NOTHING`), in SKU order
/// as PostgreSQL's store locks them.
std::vector<std::string> short_of_stock(memory_db& db, const order_lines& lines,
                                        int64_t default_stock) {
  for (auto& line : lines)
    db.stock.emplace(line.sku, default_stock);
  return rules::short_skus(lines, [&](const std::string& sku) {
    return db.stock[sku];
  });
}

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ",") + x;
  return out;
}

reply<write_outcome> exec(memory_db& db, const memory_store_settings&,
                          const reserve_cmd& c) {
  if (!admit(db))
    return unavailable("injected failure");
  if (db.processed.count({"inventory", c.event_id}) > 0)
    return write_outcome::duplicate;
  auto lines = lines_of(c);
  auto failure = c.reason;
  std::vector<std::string> short_skus;
  bool take = false;
  if (failure == cancel_reason::none) {
    // Stock is reserved at most once per order, whatever the redeliveries:
    // every line, or none.
    auto existing = db.reservations.find(c.order_id);
    if (existing == db.reservations.end()) {
      // A SKU not seen before starts with the default stock.
      if (c.default_stock < 0)
        for (auto& line : lines)
          if (db.stock.count(line.sku) == 0)
            return violates("stock: available must not be negative");
      short_skus = short_of_stock(db, lines, c.default_stock);
      take = short_skus.empty();
      if (!take)
        failure = cancel_reason::out_of_stock;
    } else if (existing->second.status != reservation_status::reserved) {
      failure = cancel_reason::out_of_stock;
    }
  }
  mark_processed(db, "inventory", c.event_id);
  if (take) {
    for (auto& line : lines)
      db.stock[line.sku] -= line.quantity;
    db.reservations[c.order_id]
      = reservation_row{c.sku, c.quantity, reservation_status::reserved, lines};
  }
  // Like the `timeline_known` statement: only for an order on record.
  if (!short_skus.empty() && db.orders.count(c.order_id) > 0)
    timeline(db, c.order_id, timeline_kind::inventory_short,
             {{"skus", join(short_skus)}});
  auto& row
    = outbox(db, topics::inventory_result.name, c.order_id,
             inventory_result{db.next_event_id(), c.order_id, c.correlation_id,
                              failure == cancel_reason::none, failure},
             c.correlation_id);
  row.sku = c.sku;
  row.quantity = c.quantity;
  row.lines = std::move(lines);
  row.short_skus = std::move(short_skus);
  return write_outcome::applied;
}

reply<write_outcome> exec(memory_db& db, const memory_store_settings&,
                          const release_cmd& c) {
  if (!admit(db))
    return unavailable("injected failure");
  auto& id = c.what.order_id;
  if (db.processed.count({"inventory", c.what.event_id}) > 0
      && !TROUPE_MUTANT("release-twice"))
    return write_outcome::duplicate;
  auto r = db.reservations.find(id);
  bool releases = r != db.reservations.end()
                  && (r->second.status == reservation_status::reserved
                      || TROUPE_MUTANT("release-twice"));
  if (releases)
    if (auto err = needs_order(db, id))
      return err;
  mark_processed(db, "inventory", c.what.event_id);
  if (releases) {
    // The stock goes back to the reservation's SKUs, not the command's:
    // every line, once; one timeline entry names them all.
    r->second.status = reservation_status::released;
    std::vector<std::string> items;
    for (auto& line : lines_of(r->second)) {
      auto s = db.stock.find(line.sku);
      if (s != db.stock.end())
        s->second += line.quantity;
      items.push_back(line.sku + ":" + std::to_string(line.quantity));
    }
    timeline(db, id, timeline_kind::inventory_released,
             {{"item_sku", r->second.sku},
              {"quantity", std::to_string(r->second.quantity)},
              {"items", join(items)}});
  }
  return write_outcome::applied;
}

reply<write_outcome> exec(memory_db& db, const memory_store_settings&,
                          const notify_cmd& c) {
  if (!admit(db))
    return unavailable("injected failure");
  auto& id = c.what.order_id;
  if (db.processed.count({"notification", c.what.event_id}) > 0)
    return write_outcome::duplicate;
  if (auto err = needs_order(db, id))
    return err;
  mark_processed(db, "notification", c.what.event_id);
  db.notifications.emplace(id, c.what.status);
  timeline(db, id, timeline_kind::notification_sent,
           {{"channel", "email"}, {"status", to_string(c.what.status)}});
  return write_outcome::applied;
}

reply<write_outcome> exec(memory_db& db, const memory_store_settings&,
                          const analytics_cmd& c) {
  if (!admit(db))
    return unavailable("injected failure");
  if (!mark_processed(db, "analytics", c.what.event_id))
    return write_outcome::duplicate;
  for (auto& line : lines_of(c.what)) {
    auto& row = db.analytics[line.sku];
    row.orders += 1;
    row.quantity += line.quantity;
    row.amount_cents += line.amount_cents;
  }
  return write_outcome::applied;
}

/// The node-local half of fencing: what `partition_fence::token` and the
/// `fence` statement decide together.
std::optional<reply<write_outcome>> fence(memory_db& db,
                                          const memory_store_settings& cfg,
                                          const std::string& order_id) {
  if (!cfg.partition_of || TROUPE_MUTANT("skip-fence"))
    return std::nullopt;
  auto p = cfg.partition_of(order_id);
  auto known = db.claims.find(cfg.node_id);
  bool owns_any = known != db.claims.end() && !known->second.empty();
  if (p < 0) {
    if (!owns_any)
      return std::nullopt; // not an owner of anything: unfenced
    return reply<write_outcome>{
      unavailable("fencing: the partition count is not known yet")};
  }
  int64_t generation = 0; // not ours: generation 0 never matches
  if (owns_any) {
    auto g = known->second.find(p);
    if (g != known->second.end())
      generation = g->second;
  }
  auto owner = db.partition_owners.find(p);
  if (owner == db.partition_owners.end()
      || owner->second.generation != generation)
    return reply<write_outcome>{write_outcome::fenced};
  return std::nullopt;
}

reply<write_outcome> exec(memory_db& db, const memory_store_settings& cfg,
                          const saga_write& w) {
  if (!admit(db))
    return unavailable("injected failure");
  if (spend(db.faults.fenced_next))
    return write_outcome::fenced;
  if (auto refused = fence(db, cfg, w.order_id))
    return std::move(*refused);
  if (!w.event_id.empty()
      && db.processed.count({"orchestrator", w.event_id}) > 0)
    return write_outcome::duplicate;
  // Applied only while the saga is still in the state the plan assumed; a
  // stale write changes nothing (not even processed_events).
  auto i = db.orders.find(w.order_id);
  if (i == db.orders.end() || i->second.status != w.expect_status
      || i->second.payment_status != w.expect_payment
      || i->second.inventory_status != w.expect_inventory)
    return write_outcome::stale;
  auto& o = i->second;
  if (!w.event_id.empty())
    mark_processed(db, "orchestrator", w.event_id);
  if (w.payment_status != payment_state::none)
    o.payment_status = w.payment_status;
  if (w.inventory_status != inventory_state::none)
    o.inventory_status = w.inventory_status;
  bool final = w.final_status != order_status::fresh;
  o.updated_at_ms = db.now();
  if (final) {
    o.status = w.final_status;
    o.reason = w.reason;
    o.finalized_at_ms = o.updated_at_ms;
  }
  for (auto kind : w.timeline) {
    std::vector<std::pair<std::string, std::string>> detail;
    if (w.reason != cancel_reason::none
        && (kind == timeline_kind::status_confirmed
            || kind == timeline_kind::status_cancelled))
      detail.emplace_back("reason", to_string(w.reason));
    timeline(db, w.order_id, kind, std::move(detail));
  }
  if (final)
    outbox(db, topics::status_changed.name, w.order_id,
           status_changed{db.next_event_id(), w.order_id, w.correlation_id,
                          w.final_status, w.reason, o.customer_email},
           w.correlation_id);
  if (w.release)
    outbox(db, topics::inventory_release.name, w.order_id,
           compensation{db.next_event_id(), w.order_id, w.correlation_id, o.sku,
                        o.quantity, lines_of(o)},
           w.correlation_id);
  if (w.refund)
    outbox(db, topics::payment_refund.name, w.order_id,
           compensation{db.next_event_id(), w.order_id, w.correlation_id, o.sku,
                        o.quantity},
           w.correlation_id)
      .amount_cents
      = o.amount_cents;
  db.saga_writes.push_back(w);
  if (db.on_saga_write)
    db.on_saga_write(cfg.node_id, w);
  if (spend(db.faults.lose_reply_next)) {
    reply<write_outcome> lost{write_outcome::applied};
    lost.lost = true;
    return lost;
  }
  if (spend(db.faults.slow_reply_next)) {
    reply<write_outcome> slow{write_outcome::applied};
    slow.delay_ms = db.faults.slow_reply_ms;
    return slow;
  }
  return write_outcome::applied;
}

reply<saga_snapshot> exec(memory_db& db, const memory_store_settings&,
                          const load_saga& c) {
  if (spend(db.faults.fail_loads_next))
    return unavailable("injected: load failed");
  return db.snapshot(c.order_id);
}

reply<std::vector<saga_snapshot>>
exec(memory_db& db, const memory_store_settings&, const list_open_sagas& c) {
  if (spend(db.faults.fail_loads_next))
    return unavailable("injected: load failed");
  std::vector<const order_row*> open;
  auto until = db.now() + c.within_ms;
  for (auto& [id, o] : db.orders)
    if (o.status == order_status::fresh
        && (c.within_ms < 0 || o.deadline_at_ms < until))
      open.push_back(&o);
  // ORDER BY deadline_at (ties: by id, which PostgreSQL leaves open).
  std::stable_sort(open.begin(), open.end(), [](auto* x, auto* y) {
    return x->deadline_at_ms < y->deadline_at_ms;
  });
  if (c.limit >= 0 && open.size() > static_cast<size_t>(c.limit))
    open.resize(c.limit);
  std::vector<saga_snapshot> result;
  result.reserve(open.size());
  for (auto* o : open)
    result.push_back(db.snapshot(o->order_id));
  return result;
}

reply<write_outcome> exec(memory_db& db, const memory_store_settings&,
                          const dead_letter& d) {
  if (!admit(db))
    return unavailable("injected failure");
  // Text columns get a readable rendition of outside bytes.
  dead_letter row = d;
  row.key = utf8::escape(d.key);
  row.payload = utf8::escape(d.payload);
  row.error = utf8::escape(d.error);
  row.topic = utf8::escape(d.topic);
  row.correlation_id = utf8::escape(d.correlation_id);
  if (!is_timestamp(d.first_failure) || !is_timestamp(d.last_failure))
    return violates("dead_letters: failure times must be timestamps");
  // UNIQUE (consumer, topic, kafka_partition, kafka_offset).
  for (auto& x : db.dead_letters)
    if (x.consumer == row.consumer && x.topic == row.topic
        && x.partition == row.partition && x.offset == row.offset)
      return write_outcome::duplicate;
  db.dead_letters.push_back(row);
  db.dead_lettered_at_ms[static_cast<int64_t>(db.dead_letters.size())]
    = db.now();
  // The outbox row keeps the exact bytes: they are what gets published.
  auto topic = row.topic + ".dlq";
  outbox_row ob;
  ob.id = db.next_outbox_id++;
  ob.topic = topic;
  ob.key = d.key;
  ob.payload = d.payload;
  ob.correlation_id = row.correlation_id;
  ob.created_at_ms = db.now();
  db.outbox.push_back(std::move(ob));
  if (is_uuid(d.key) && db.orders.count(d.key) > 0)
    timeline(db, d.key, timeline_kind::dead_lettered,
             {{"topic", row.topic},
              {"consumer", d.consumer},
              {"attempts", std::to_string(d.attempts)},
              {"error", row.error}});
  return write_outcome::applied;
}

reply<write_outcome> exec(memory_db& db, const memory_store_settings&,
                          const retry_note& n) {
  if (!admit(db))
    return unavailable("injected failure");
  if (!is_uuid(n.key))
    return write_outcome::stale;
  if (db.orders.count(n.key) > 0)
    timeline(db, n.key, timeline_kind::retry,
             {{"topic", utf8::escape(n.topic)},
              {"consumer", n.consumer},
              {"attempt", std::to_string(n.attempt)},
              {"delay_ms", std::to_string(n.delay_ms)},
              {"error", utf8::escape(n.error)}});
  return write_outcome::applied;
}

} // namespace

// -- the store actor ----------------------------------------------------------

namespace {

using store_ptr = memory_store_actor::stateful_pointer<memory_store_state>;

template <class Cmd>
using reply_t =
  typename decltype(exec(std::declval<memory_db&>(),
                         std::declval<const memory_store_settings&>(),
                         std::declval<const Cmd&>())
                      .value)::value_type;

/// One command waiting for the next commit. `run` applies it (under the
/// database's lock) and returns what to deliver after the commit, or
/// nothing when the reply is lost.
struct memory_job : commit_job {
  virtual commit_reply run(memory_db& db, const memory_store_settings& cfg) = 0;
};

template <class Cmd>
struct memory_command final : memory_job {
  using value_type = reply_t<Cmd>;

  memory_command(store_ptr self, caf::typed_response_promise<value_type> rp,
                 Cmd cmd)
    : self(self), rp(std::move(rp)), cmd(std::move(cmd)) {
    // nop
  }

  void fail(const caf::error& err) override {
    rp.deliver(err);
  }

  commit_reply run(memory_db& db, const memory_store_settings& cfg) override {
    auto r = exec(db, cfg, cmd);
    if (r.lost)
      return {};
    commit_reply deliver = [rp = rp, v = std::move(r.value)]() mutable {
      if (v)
        rp.deliver(std::move(*v));
      else
        rp.deliver(v.error());
    };
    if (r.delay_ms <= 0)
      return deliver;
    return [self = self, deliver = std::move(deliver), delay = r.delay_ms] {
      auto& st = self->state;
      auto id = st.next_late++;
      st.late.emplace(id, std::move(deliver));
      self->delayed_send(self, std::chrono::milliseconds(delay),
                         late_atom::value, id);
    };
  }

  store_ptr self;
  caf::typed_response_promise<value_type> rp;
  Cmd cmd;
};

/// The database as the group-commit core's backend: a batch is one commit,
/// under the database's lock.
class memory_backend : public commit_backend {
public:
  explicit memory_backend(store_ptr self) : self_(self) {
    // nop
  }

  caf::error connect() override {
    return caf::none; // store outages are injected per commit or command
  }

  caf::expected<std::vector<commit_reply>>
  run(const std::vector<commit_job*>& jobs) override {
    auto& st = self_->state;
    auto& db = *st.db;
    std::lock_guard<std::mutex> guard{db.mtx};
    if (spend(db.faults.fail_commit_next))
      return unavailable("injected: the commit failed");
    std::vector<commit_reply> replies;
    replies.reserve(jobs.size());
    // Every job of this core is a memory_job: the store adds no other.
    for (auto* job : jobs)
      replies.push_back(static_cast<memory_job*>(job)->run(db, st.cfg));
    if (unknown_commit(db.faults))
      return make_error(troupe_errc::commit_unknown,
                        "injected: no answer to the commit");
    return replies;
  }

private:
  store_ptr self_;
};

template <class Cmd>
caf::typed_response_promise<reply_t<Cmd>> enqueue(store_ptr self, Cmd cmd) {
  auto rp = self->make_response_promise<reply_t<Cmd>>();
  self->state.commits->add(
    std::make_unique<memory_command<Cmd>>(self, rp, std::move(cmd)));
  return rp;
}

} // namespace

memory_store_actor::behavior_type
memory_store(memory_store_actor::stateful_pointer<memory_store_state> self,
             std::shared_ptr<memory_db> db, memory_store_settings cfg) {
  self->state.db = std::move(db);
  self->state.cfg = std::move(cfg);
  self->state.commits = std::make_unique<group_commit>(
    std::make_unique<memory_backend>(self), self->state.cfg.max_batch,
    // Everything already in the mailbox joins the batch: the flush message
    // queues up behind it.
    [self] { self->send(self, flush_atom::value); });
  return {
    [=](flush_atom) { self->state.commits->flush(); },
    [=](late_atom, uint64_t id) {
      auto i = self->state.late.find(id);
      if (i == self->state.late.end())
        return;
      auto deliver = std::move(i->second);
      self->state.late.erase(i);
      deliver();
    },
    [=](create_order& x) { return enqueue(self, std::move(x)); },
    [=](cancel_order& x) { return enqueue(self, std::move(x)); },
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

node_store_actor spawn_memory_store(caf::actor_system& sys,
                                    std::shared_ptr<memory_db> db,
                                    memory_store_settings cfg) {
  return sys.spawn(memory_store, std::move(db), std::move(cfg));
}

} // namespace troupe::sim
