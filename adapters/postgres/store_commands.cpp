// What each store command does inside its shard's transaction: the
// catalogue's statements, the events it emits to the outbox, its timeline.
#include "adapters/postgres/store_commands.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "actors/rules.hpp"
#include "base/text.hpp"
#include "base/utf8.hpp"
#include "envelope/codec.hpp"
#include "envelope/events.hpp"

namespace troupe::pg {

namespace {

using json = nlohmann::json;

bool mark_processed(pqxx::work& tx, const char* consumer,
                    const std::string& event_id) {
  return tx.exec_prepared("processed", consumer, event_id).affected_rows() > 0;
}

void timeline(pqxx::work& tx, const std::string& order_id, timeline_kind kind,
              json detail = json::object()) {
  tx.exec_prepared("timeline", order_id, to_string(kind), detail.dump());
}

/// The wire text of a vocabulary word.
template <class T>
std::string text(const T& x) {
  if constexpr (std::is_enum_v<T>)
    return to_string(x);
  else if constexpr (std::is_arithmetic_v<T>)
    return std::to_string(x);
  else
    return x;
}

/// A PostgreSQL array literal of text elements.
template <class T>
std::string pg_array(const std::vector<T>& xs) {
  std::string out = "{";
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i > 0)
      out += ',';
    out += '"';
    for (char ch : text(xs[i])) {
      if (ch == '"' || ch == '\\')
        out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

/// One field of every line, as a PostgreSQL array literal.
template <class Field>
std::string column_of(const order_lines& lines, Field field) {
  std::vector<std::decay_t<decltype(lines.front().*field)>> xs;
  xs.reserve(lines.size());
  for (auto& line : lines)
    xs.push_back(line.*field);
  return pg_array(xs);
}

/// A column holding a vocabulary word; a word Troupe does not know means the
/// row was written by something else, which this node cannot act on.
template <class Parse>
auto column(const pqxx::field& f, Parse parse) {
  auto text = f.as<std::string>();
  auto x = parse(text);
  if (!x)
    throw std::runtime_error("column " + std::string{f.name()}
                             + " holds unknown value '" + text + "'");
  return *x;
}

saga_snapshot to_snapshot(const pqxx::row& r) {
  saga_snapshot s;
  s.order_id = r[0].as<std::string>();
  s.correlation_id = r[1].as<std::string>();
  s.customer_email = r[2].as<std::string>();
  s.sku = r[3].as<std::string>();
  s.quantity = r[4].as<int32_t>();
  s.amount_cents = r[5].as<int64_t>();
  s.status = column(r[6], parse_order_status);
  s.reason = column(r[7], parse_cancel_reason);
  s.payment_status = column(r[8], parse_payment_state);
  s.inventory_status = column(r[9], parse_inventory_state);
  s.deadline_in_ms = r[10].as<int64_t>();
  s.created_at_ms = r[11].as<int64_t>();
  s.traceparent = r[12].as<std::string>();
  s.found = true;
  return s;
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

} // namespace

std::vector<std::string> stock_of(const reserve_cmd& c) {
  std::vector<std::string> result;
  for (auto& line : lines_of(c))
    result.push_back(line.sku);
  return result;
}

std::vector<std::string> stock_of(const release_cmd& c) {
  std::vector<std::string> result{c.what.sku};
  for (auto& line : c.what.lines)
    result.push_back(line.sku);
  return result;
}

void lock_stock(pqxx::work& tx, std::vector<std::string> skus) {
  if (skus.empty())
    return;
  std::sort(skus.begin(), skus.end());
  skus.erase(std::unique(skus.begin(), skus.end()), skus.end());
  tx.exec_prepared("lock_stock", pg_array(skus));
}

std::vector<created_order> exec_many(pqxx::work& tx,
                                     const std::vector<create_order>& cs) {
  std::vector<std::string> id, email, sku, q, amount, corr, idem, dl, detail,
    payload, headers, tp;
  std::vector<std::string> ln, lk, ls, lq, lu, la;
  for (size_t i = 0; i < cs.size(); ++i) {
    auto& c = cs[i];
    auto lines = lines_of(c);
    id.push_back(c.order_id);
    email.push_back(c.customer_email);
    sku.push_back(c.sku);
    q.push_back(std::to_string(c.quantity));
    amount.push_back(std::to_string(c.amount_cents));
    corr.push_back(c.correlation_id);
    idem.push_back(c.idempotency_key);
    dl.push_back(std::to_string(c.deadline_ms));
    detail.push_back(json{
      {"item_sku", c.sku},
      {"quantity", c.quantity},
      {"amount_cents", c.amount_cents},
      {"lines",
       lines.size()}}.dump());
    payload.push_back(
      codec::encode(order_created{"", c.order_id, c.correlation_id,
                                  c.customer_email, c.sku, c.quantity,
                                  c.amount_cents, lines, c.traceparent},
                    c.idempotency_key)
        .text);
    headers.push_back(
      events::headers(events::order_created, c.correlation_id, c.traceparent));
    tp.push_back(c.traceparent);
    for (size_t k = 0; k < lines.size(); ++k) {
      ln.push_back(std::to_string(i + 1));
      lk.push_back(std::to_string(k + 1));
      ls.push_back(lines[k].sku);
      lq.push_back(std::to_string(lines[k].quantity));
      lu.push_back(std::to_string(lines[k].unit_price_cents));
      la.push_back(std::to_string(lines[k].amount_cents));
    }
  }
  std::set<std::string> created;
  for (const auto& r : tx.exec_prepared(
         "create_order_many", pg_array(id), pg_array(email), pg_array(sku),
         pg_array(q), pg_array(amount), pg_array(corr), pg_array(idem),
         pg_array(dl), pg_array(detail), pg_array(payload), pg_array(headers),
         pg_array(tp), pg_array(ln), pg_array(lk), pg_array(ls), pg_array(lq),
         pg_array(lu), pg_array(la)))
    created.insert(r[0].as<std::string>());
  std::vector<created_order> out;
  out.reserve(cs.size());
  for (auto& c : cs) {
    if (created.count(c.order_id) > 0) {
      out.push_back(created_order{c.order_id, c.correlation_id,
                                  to_string(order_status::fresh), true});
      continue;
    }
    // Its id or reference was taken (before, or by an earlier command of
    // this batch): the order that holds it.
    auto existing = tx.exec_prepared1("existing_order", c.order_id,
                                      c.idempotency_key);
    out.push_back(created_order{
      existing[0].as<std::string>(), existing[1].as<std::string>(),
      existing[2].as<std::string>(), existing[3].as<bool>()});
  }
  return out;
}

cancel_answer exec(pqxx::work& tx, const cancel_order& c) {
  cancel_answer a;
  a.order_id = c.order_id;
  auto marked = tx.exec_prepared("cancel_mark", c.order_id);
  if (!marked.empty()) {
    // The first request for this open order: its event and timeline entry
    // commit with the mark, or not at all.
    auto corr = marked[0][0].as<std::string>();
    // The request's own trace context, or else the order's.
    auto trace = c.traceparent.empty() ? marked[0][1].as<std::string>()
                                       : c.traceparent;
    auto ev = codec::encode(cancel_requested{"", c.order_id, corr, trace});
    tx.exec_prepared("outbox", events::cancel_requested, c.order_id, ev.text,
                     events::headers(events::cancel_requested, corr, trace));
    timeline(tx, c.order_id, timeline_kind::cancel_requested);
  }
  auto r = tx.exec_prepared("cancel_state", c.order_id);
  if (r.empty())
    return a;
  a.found = true;
  a.correlation_id = r[0][0].as<std::string>();
  a.status = column(r[0][1], parse_order_status);
  a.reason = column(r[0][2], parse_cancel_reason);
  a.recorded = a.status == order_status::fresh && r[0][3].as<bool>();
  return a;
}

write_outcome exec(pqxx::work& tx, const refund_cmd& c) {
  if (!mark_processed(tx, "payment", c.what.event_id))
    return write_outcome::duplicate;
  auto r = tx.exec_prepared("refund", c.what.order_id);
  if (!r.empty())
    timeline(tx, c.what.order_id, timeline_kind::payment_refunded,
             {{"amount_cents", r[0][0].as<int64_t>()}});
  return write_outcome::applied;
}

namespace {

/// Runs a set-oriented statement for the commands whose event ids are
/// `ids` (in command order) and answers each: `applied` when its
/// processed_events row was inserted now, `duplicate` otherwise. A command
/// whose event id came earlier in the batch is a duplicate of that one and
/// is not sent.
template <class Run>
std::vector<write_outcome> answer_many(const std::vector<std::string>& ids,
                                       std::vector<bool>& first, Run run) {
  std::set<std::string> seen;
  first.assign(ids.size(), false);
  for (size_t i = 0; i < ids.size(); ++i)
    first[i] = seen.insert(ids[i]).second;
  auto applied = run();
  std::vector<write_outcome> out(ids.size(), write_outcome::duplicate);
  for (size_t i = 0; i < ids.size(); ++i)
    if (first[i] && applied.count(ids[i]) > 0)
      out[i] = write_outcome::applied;
  return out;
}

std::set<std::string> event_ids(const pqxx::result& r) {
  std::set<std::string> out;
  for (const auto& row : r)
    out.insert(row[0].as<std::string>());
  return out;
}

/// What a batch sends: outbox rows, in order.
struct outbox_rows {
  std::vector<std::string> topics, keys, payloads, headers;
};

void insert_rows(pqxx::work& tx, const outbox_rows& rows) {
  if (!rows.topics.empty())
    tx.exec_prepared("outbox_rows", pg_array(rows.topics), pg_array(rows.keys),
                     pg_array(rows.payloads), pg_array(rows.headers));
}
} // namespace

std::vector<write_outcome> exec_many(pqxx::work& tx,
                                     const std::vector<reserve_cmd>& cs) {
  std::vector<write_outcome> out(cs.size(), write_outcome::duplicate);
  // Every command of the batch seeds unseen SKUs with the same default (the
  // node's setting); should they differ, each runs on its own, in order.
  for (auto& c : cs)
    if (c.default_stock != cs.front().default_stock) {
      for (size_t i = 0; i < cs.size(); ++i)
        out[i] = exec_many(tx, std::vector<reserve_cmd>{cs[i]}).front();
      return out;
    }
  std::vector<std::string> ids;
  std::set<std::string> seen;
  std::vector<size_t> todo;
  for (size_t i = 0; i < cs.size(); ++i)
    if (seen.insert(cs[i].event_id).second) {
      ids.push_back(cs[i].event_id);
      todo.push_back(i);
    }
  std::set<std::string> fresh;
  for (const auto& r :
       tx.exec_prepared("processed_many", "inventory", pg_array(ids)))
    fresh.insert(r[0].as<std::string>());
  std::vector<size_t> run;
  for (auto i : todo)
    if (fresh.count(cs[i].event_id) > 0)
      run.push_back(i);
  // What the orders hold already, and the stock rows of every line still to
  // reserve, locked in SKU order.
  std::vector<std::string> orders, skus;
  for (auto i : run)
    if (cs[i].reason == cancel_reason::none) {
      orders.push_back(cs[i].order_id);
      for (auto& line : lines_of(cs[i]))
        skus.push_back(line.sku);
    }
  std::map<std::string, std::string> held;
  std::map<std::string, int64_t> available;
  if (!orders.empty()) {
    for (const auto& r :
         tx.exec_prepared("reservations_of_many", pg_array(orders)))
      held.emplace(r[0].as<std::string>(), r[1].as<std::string>());
    std::sort(skus.begin(), skus.end());
    skus.erase(std::unique(skus.begin(), skus.end()), skus.end());
    tx.exec_prepared("seed_stock", pg_array(skus), cs.front().default_stock);
    for (const auto& r : tx.exec_prepared("lock_stock", pg_array(skus)))
      available.emplace(r[0].as<std::string>(), r[1].as<int64_t>());
  }
  std::map<std::string, int64_t> taken;
  std::vector<std::string> res_orders, res_skus, short_orders, short_details;
  std::vector<int64_t> res_quantities;
  outbox_rows rows;
  for (auto i : run) {
    auto& c = cs[i];
    auto lines = lines_of(c);
    auto failure = c.reason;
    std::vector<std::string> short_skus;
    if (failure == cancel_reason::none) {
      auto h = held.find(c.order_id);
      if (h == held.end()) {
        short_skus = rules::short_skus(lines, [&](const std::string& sku) {
          auto a = available.find(sku);
          return a == available.end() ? int64_t{0} : a->second;
        });
        if (short_skus.empty()) {
          for (auto& line : lines) {
            available[line.sku] -= line.quantity;
            taken[line.sku] += line.quantity;
            res_orders.push_back(c.order_id);
            res_skus.push_back(line.sku);
            res_quantities.push_back(line.quantity);
          }
          held.emplace(c.order_id, "RESERVED");
        } else {
          failure = cancel_reason::out_of_stock;
          short_orders.push_back(c.order_id);
          short_details.push_back(json{{"skus", short_skus}}.dump());
        }
      } else if (h->second != "RESERVED") {
        failure = cancel_reason::out_of_stock;
      }
    }
    auto ev
      = codec::encode(inventory_result{"", c.order_id, c.correlation_id,
                                       failure == cancel_reason::none, failure},
                      lines, short_skus);
    rows.topics.emplace_back(events::inventory_result);
    rows.keys.push_back(c.order_id);
    rows.payloads.push_back(std::move(ev.text));
    rows.headers.push_back(events::headers(events::inventory_result,
                                           c.correlation_id, c.traceparent));
    out[i] = write_outcome::applied;
  }
  if (!taken.empty()) {
    std::vector<std::string> s;
    std::vector<int64_t> q;
    for (auto& [sku, n] : taken) {
      s.push_back(sku);
      q.push_back(n);
    }
    tx.exec_prepared("take_stock", pg_array(s), pg_array(q));
    tx.exec_prepared("reserve_many", pg_array(res_orders), pg_array(res_skus),
                     pg_array(res_quantities));
  }
  if (!short_orders.empty())
    tx.exec_prepared("timeline_known_many",
                     to_string(timeline_kind::inventory_short),
                     pg_array(short_orders), pg_array(short_details));
  insert_rows(tx, rows);
  return out;
}

write_outcome exec(pqxx::work& tx, const release_cmd& c) {
  if (!mark_processed(tx, "inventory", c.what.event_id))
    return write_outcome::duplicate;
  // Every reserved line goes back once, in SKU order (the order stock rows
  // are locked in); one timeline entry names them all.
  std::map<std::string, int32_t> released;
  for (const auto& r : tx.exec_prepared("release", c.what.order_id))
    released.emplace(r[0].as<std::string>(), r[1].as<int32_t>());
  if (released.empty())
    return write_outcome::applied;
  int32_t total = 0;
  auto items = json::array();
  for (auto& [sku, qty] : released) {
    tx.exec_prepared("return_stock", sku, qty);
    items.push_back({{"sku", sku}, {"quantity", qty}});
    total += qty;
  }
  timeline(tx, c.what.order_id, timeline_kind::inventory_released,
           {{"item_sku", released.begin()->first},
            {"quantity", total},
            {"items", items}});
  return write_outcome::applied;
}

std::vector<write_outcome> exec_many(pqxx::work& tx,
                                     const std::vector<payment_cmd>& cs) {
  std::vector<std::string> ids;
  for (auto& c : cs)
    ids.push_back(c.event_id);
  std::vector<bool> first;
  return answer_many(ids, first, [&] {
    std::vector<std::string> e, o, a, r, m, p, h;
    for (size_t i = 0; i < cs.size(); ++i) {
      if (!first[i])
        continue;
      auto& c = cs[i];
      e.push_back(c.event_id);
      o.push_back(c.order_id);
      a.push_back(c.approved ? "t" : "f");
      r.push_back(text(c.reason));
      m.push_back(std::to_string(c.amount_cents));
      p.push_back(codec::encode(payment_result{"", c.order_id, c.correlation_id,
                                               c.approved, c.reason},
                                c.amount_cents)
                    .text);
      h.push_back(events::headers(events::payment_result, c.correlation_id,
                                  c.traceparent));
    }
    return event_ids(tx.exec_prepared("payment_many", pg_array(e), pg_array(o),
                                      pg_array(a), pg_array(r), pg_array(m),
                                      pg_array(p), pg_array(h)));
  });
}

std::vector<write_outcome> exec_many(pqxx::work& tx,
                                     const std::vector<notify_cmd>& cs) {
  std::vector<std::string> ids;
  for (auto& c : cs)
    ids.push_back(c.what.event_id);
  std::vector<bool> first;
  return answer_many(ids, first, [&] {
    std::vector<std::string> e, o, st, r, m, d;
    for (size_t i = 0; i < cs.size(); ++i) {
      if (!first[i])
        continue;
      auto& x = cs[i].what;
      e.push_back(x.event_id);
      o.push_back(x.order_id);
      st.push_back(text(x.status));
      r.push_back(text(x.reason));
      m.push_back(x.customer_email);
      d.push_back(
        json{{"channel", "email"}, {"status", to_string(x.status)}}.dump());
    }
    return event_ids(tx.exec_prepared("notify_many", pg_array(e), pg_array(o),
                                      pg_array(st), pg_array(r), pg_array(m),
                                      pg_array(d)));
  });
}

std::vector<write_outcome> exec_many(pqxx::work& tx,
                                     const std::vector<analytics_cmd>& cs) {
  std::vector<std::string> ids;
  for (auto& c : cs)
    ids.push_back(c.what.event_id);
  std::vector<bool> first;
  return answer_many(ids, first, [&] {
    std::vector<std::string> e, n, sku;
    std::vector<int64_t> q, a;
    for (size_t i = 0; i < cs.size(); ++i) {
      if (!first[i])
        continue;
      e.push_back(cs[i].what.event_id);
      for (auto& line : lines_of(cs[i].what)) {
        n.push_back(std::to_string(e.size()));
        sku.push_back(line.sku);
        q.push_back(line.quantity);
        a.push_back(line.amount_cents);
      }
    }
    return event_ids(tx.exec_prepared("analytics_many", pg_array(e),
                                      pg_array(n), pg_array(sku), pg_array(q),
                                      pg_array(a)));
  });
}

namespace {

/// Whether this node still owns the partition of `order_id` (a token is
/// checked once per transaction).
bool fence_ok(pqxx::work& tx, fence_scope* scope, const std::string& order_id) {
  if (scope == nullptr || scope->fence == nullptr)
    return true;
  auto tok = scope->fence->token(order_id);
  if (!tok)
    return true;
  auto& held = scope->held;
  if (std::find(held.begin(), held.end(), *tok) != held.end())
    return true;
  auto& refused = scope->refused;
  if (std::find(refused.begin(), refused.end(), *tok) != refused.end())
    return false;
  if (tx.exec_prepared("fence", tok->first, tok->second).empty()) {
    refused.push_back(*tok);
    return false;
  }
  held.push_back(*tok);
  return true;
}

/// Checks the tokens of every order in `ws` that the transaction does not
/// hold yet, in one statement.
void fence_all(pqxx::work& tx, fence_scope* scope,
               const std::vector<saga_write>& ws) {
  if (scope == nullptr || scope->fence == nullptr)
    return;
  std::vector<std::pair<int32_t, int64_t>> ask;
  for (auto& w : ws) {
    auto tok = scope->fence->token(w.order_id);
    if (!tok)
      continue;
    auto seen = [&](auto& xs) {
      return std::find(xs.begin(), xs.end(), *tok) != xs.end();
    };
    if (!seen(scope->held) && !seen(scope->refused) && !seen(ask))
      ask.push_back(*tok);
  }
  if (ask.size() < 2)
    return; // one token: fence_ok's own statement is as cheap
  std::vector<int32_t> parts;
  std::vector<int64_t> gens;
  for (auto& [p, g] : ask) {
    parts.push_back(p);
    gens.push_back(g);
  }
  std::vector<std::pair<int32_t, int64_t>> valid;
  for (const auto& r :
       tx.exec_prepared("fence_many", pg_array(parts), pg_array(gens)))
    valid.emplace_back(r[0].as<int32_t>(), r[1].as<int64_t>());
  for (auto& tok : ask) {
    if (std::find(valid.begin(), valid.end(), tok) != valid.end())
      scope->held.push_back(tok);
    else
      scope->refused.push_back(tok);
  }
}

/// The order's row as the update returned it.
struct updated_order {
  std::string email;
  std::string sku;
  int32_t quantity = 0;
  int64_t amount_cents = 0;
};

void saga_events(const saga_write& w, const updated_order& o,
                 const order_lines& lines, outbox_rows& out) {
  auto add = [&](const char* type, events::envelope ev) {
    out.topics.emplace_back(type);
    out.keys.push_back(w.order_id);
    out.payloads.push_back(std::move(ev.text));
    out.headers.push_back(
      events::headers(type, w.correlation_id, w.traceparent));
  };
  if (w.final_status != order_status::fresh)
    add(events::status_changed,
        codec::encode(status_changed{"", w.order_id, w.correlation_id,
                                     w.final_status, w.reason, o.email}));
  compensation what{"", w.order_id, w.correlation_id, o.sku, o.quantity, {}};
  if (w.release) {
    what.lines = lines;
    add(events::inventory_release, codec::encode_release(what));
  }
  if (w.refund)
    add(events::payment_refund, codec::encode_refund(what, o.amount_cents));
}

} // namespace

std::vector<write_outcome> exec_many(pqxx::work& tx,
                                     const std::vector<saga_write>& ws,
                                     fence_scope* scope) {
  std::vector<write_outcome> out(ws.size(), write_outcome::applied);
  // One write per order goes into the statements; another write for the
  // same order (not sent by one orchestrator, but possible) runs after them
  // on its own, seeing the first.
  std::vector<size_t> set, alone;
  std::set<std::string> orders, events_seen;
  fence_all(tx, scope, ws);
  for (size_t i = 0; i < ws.size(); ++i) {
    auto& w = ws[i];
    if (!orders.insert(w.order_id).second) {
      alone.push_back(i);
      continue;
    }
    if (!fence_ok(tx, scope, w.order_id)) {
      out[i] = write_outcome::fenced;
      continue;
    }
    if (!w.event_id.empty() && !events_seen.insert(w.event_id).second) {
      out[i] = write_outcome::duplicate;
      continue;
    }
    set.push_back(i);
  }
  // The idempotency rows: a write whose event was applied before is a
  // duplicate.
  std::vector<std::string> ids;
  for (auto i : set)
    if (!ws[i].event_id.empty())
      ids.push_back(ws[i].event_id);
  if (!ids.empty()) {
    std::set<std::string> fresh;
    for (const auto& r :
         tx.exec_prepared("processed_many", "orchestrator", pg_array(ids)))
      fresh.insert(r[0].as<std::string>());
    std::vector<size_t> kept;
    for (auto i : set) {
      if (!ws[i].event_id.empty() && fresh.count(ws[i].event_id) == 0)
        out[i] = write_outcome::duplicate;
      else
        kept.push_back(i);
    }
    set.swap(kept);
  }
  std::map<std::string, updated_order> updated;
  if (!set.empty()) {
    std::vector<std::string> id, p, inv, f, r, es, ep, ei;
    for (auto i : set) {
      auto& w = ws[i];
      id.push_back(w.order_id);
      p.push_back(text(w.payment_status));
      inv.push_back(text(w.inventory_status));
      f.push_back(w.final_status != order_status::fresh ? text(w.final_status)
                                                        : std::string{});
      r.push_back(text(w.reason));
      es.push_back(text(w.expect_status));
      ep.push_back(text(w.expect_payment));
      ei.push_back(text(w.expect_inventory));
    }
    for (const auto& row : tx.exec_prepared(
           "saga_update_many", pg_array(id), pg_array(p), pg_array(inv),
           pg_array(f), pg_array(r), pg_array(es), pg_array(ep), pg_array(ei)))
      updated.emplace(
        row[0].as<std::string>(),
        updated_order{row[1].as<std::string>(), row[2].as<std::string>(),
                      row[3].as<int32_t>(), row[4].as<int64_t>()});
  }
  // Stale: nothing changed, and the event may be applied again.
  std::vector<std::string> unprocess, releasing;
  std::vector<std::string> tl_orders, tl_kinds, tl_reasons;
  for (auto i : set) {
    auto& w = ws[i];
    if (updated.count(w.order_id) == 0) {
      out[i] = write_outcome::stale;
      if (!w.event_id.empty())
        unprocess.push_back(w.event_id);
      continue;
    }
    for (auto k : w.timeline) {
      tl_orders.push_back(w.order_id);
      tl_kinds.push_back(text(k));
      tl_reasons.push_back(text(w.reason));
    }
    if (w.release)
      releasing.push_back(w.order_id);
  }
  if (!unprocess.empty())
    tx.exec_prepared("unprocess_many", "orchestrator", pg_array(unprocess));
  if (!tl_orders.empty())
    tx.exec_prepared("timeline_rows", pg_array(tl_orders), pg_array(tl_kinds),
                     pg_array(tl_reasons));
  std::map<std::string, order_lines> lines;
  if (!releasing.empty())
    for (const auto& r : tx.exec_prepared("lines_of_many", pg_array(releasing)))
      lines[r[0].as<std::string>()].push_back(
        order_line{r[1].as<std::string>(), r[2].as<int32_t>(),
                   r[3].as<int64_t>(), r[4].as<int64_t>()});
  outbox_rows rows;
  for (auto i : set) {
    auto& w = ws[i];
    auto u = updated.find(w.order_id);
    if (out[i] != write_outcome::applied || u == updated.end())
      continue;
    saga_events(w, u->second, lines[w.order_id], rows);
  }
  insert_rows(tx, rows);
  for (auto i : alone)
    out[i] = exec_many(tx, std::vector<saga_write>{ws[i]}, scope).front();
  return out;
}

std::vector<saga_snapshot> exec_many(pqxx::work& tx,
                                     const std::vector<load_saga>& cs) {
  // One statement for every load of the batch; an id that is not a UUID
  // names no order (as an unknown one).
  std::vector<std::string> ids;
  for (auto& c : cs)
    if (events::is_uuid(c.order_id))
      ids.push_back(ascii_lower(c.order_id));
  std::unordered_map<std::string, saga_snapshot> found;
  if (!ids.empty())
    for (const auto& row : tx.exec_prepared("load_sagas", pg_array(ids))) {
      auto snap = to_snapshot(row);
      auto id = snap.order_id;
      found.emplace(std::move(id), std::move(snap));
    }
  std::vector<saga_snapshot> out;
  out.reserve(cs.size());
  for (auto& c : cs) {
    auto i = found.find(ascii_lower(c.order_id));
    if (i == found.end()) {
      saga_snapshot s;
      s.order_id = c.order_id;
      out.push_back(std::move(s));
    } else {
      out.push_back(i->second);
      out.back().order_id = c.order_id;
    }
  }
  return out;
}

std::vector<saga_snapshot> exec(pqxx::work& tx, const list_open_sagas& c) {
  std::vector<saga_snapshot> result;
  auto r = tx.exec_prepared("open_sagas", c.within_ms, c.limit);
  result.reserve(r.size());
  for (const auto& row : r)
    result.push_back(to_snapshot(row));
  return result;
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
    tx.exec_prepared("timeline_known", d.key,
                     to_string(timeline_kind::dead_lettered),
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
  tx.exec_prepared("timeline_known", n.key, to_string(timeline_kind::retry),
                   json{{"topic", utf8::escape(n.topic)},
                        {"consumer", n.consumer},
                        {"attempt", n.attempt},
                        {"delay_ms", n.delay_ms},
                        {"error", utf8::escape(n.error)}}
                     .dump());
  return write_outcome::applied;
}

} // namespace troupe::pg
