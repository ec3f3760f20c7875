// The in-memory store used by the deterministic suites.
#include "tests/unit/fake_store.hpp"

#include "actors/rules.hpp"
#include "base/errors.hpp"

namespace troupe::test {

saga_snapshot& fake_db::add_order(const std::string& id, int64_t deadline_in_ms,
                                  int32_t quantity, int64_t amount) {
  auto& s = orders[id];
  s.order_id = id;
  s.correlation_id = "corr-" + id;
  s.customer_email = "c@example.com";
  s.sku = "SKU-1";
  s.quantity = quantity;
  s.amount_cents = amount;
  s.deadline_in_ms = deadline_in_ms;
  s.found = true;
  return s;
}

size_t fake_db::count_events(const std::string& topic,
                             const std::string& order_id) const {
  size_t n = 0;
  for (auto& [t, o] : events)
    if (t == topic && o == order_id)
      ++n;
  return n;
}

namespace {

/// Whether the write may go ahead; false means "fail it".
bool admit(fake_db& db) {
  if (db.fail_next > 0) {
    --db.fail_next;
    return false;
  }
  return true;
}

caf::error unavailable() {
  return make_error(troupe_errc::storage_unavailable, "injected failure");
}

bool first_time(fake_db& db, const char* consumer, const std::string& id) {
  return db.processed.emplace(consumer, id).second;
}

} // namespace

store_actor::behavior_type
fake_store(store_actor::stateful_pointer<fake_store_state> self,
           std::shared_ptr<fake_db> db) {
  self->state.db = db;
  return {
    [=](payment_cmd& c) -> caf::result<write_outcome> {
      if (!admit(*db))
        return unavailable();
      if (!first_time(*db, "payment", c.event_id))
        return write_outcome::duplicate;
      db->payments.emplace(c.order_id, c.approved);
      db->events.emplace_back("payment.result", c.order_id);
      return write_outcome::applied;
    },
    [=](reserve_cmd& c) -> caf::result<write_outcome> {
      if (!admit(*db))
        return unavailable();
      if (!first_time(*db, "inventory", c.event_id))
        return write_outcome::duplicate;
      if (c.reason == cancel_reason::none
          && db->reservations.count(c.order_id) == 0) {
        auto& available
          = db->stock.emplace(c.sku, c.default_stock).first->second;
        if (rules::inventory_decision(c.quantity, available)
            == cancel_reason::none) {
          available -= c.quantity;
          db->reservations[c.order_id] = {"RESERVED", c.quantity};
        }
      }
      db->events.emplace_back("inventory.result", c.order_id);
      return write_outcome::applied;
    },
    [=](release_cmd& c) -> caf::result<write_outcome> {
      if (!admit(*db))
        return unavailable();
      if (!first_time(*db, "inventory", c.what.event_id))
        return write_outcome::duplicate;
      auto i = db->reservations.find(c.what.order_id);
      if (i != db->reservations.end() && i->second.first == "RESERVED") {
        i->second.first = "RELEASED";
        db->stock[c.what.sku] += i->second.second;
      }
      return write_outcome::applied;
    },
    [=](refund_cmd& c) -> caf::result<write_outcome> {
      if (!admit(*db))
        return unavailable();
      if (!first_time(*db, "payment", c.what.event_id))
        return write_outcome::duplicate;
      auto i = db->payments.find(c.what.order_id);
      if (i != db->payments.end() && i->second)
        db->refunded.insert(c.what.order_id);
      return write_outcome::applied;
    },
    [=](notify_cmd& c) -> caf::result<write_outcome> {
      if (!admit(*db))
        return unavailable();
      if (!first_time(*db, "notification", c.what.event_id))
        return write_outcome::duplicate;
      return write_outcome::applied;
    },
    [=](analytics_cmd& c) -> caf::result<write_outcome> {
      if (!admit(*db))
        return unavailable();
      if (!first_time(*db, "analytics", c.what.event_id))
        return write_outcome::duplicate;
      return write_outcome::applied;
    },
    [=](saga_write& w) -> caf::result<write_outcome> {
      if (!admit(*db))
        return unavailable();
      if (db->fenced_next > 0) {
        --db->fenced_next;
        return write_outcome::fenced;
      }
      if (!w.event_id.empty() && !first_time(*db, "orchestrator", w.event_id))
        return write_outcome::duplicate;
      auto i = db->orders.find(w.order_id);
      if (i == db->orders.end())
        return make_error(troupe_errc::not_found, w.order_id);
      auto& s = i->second;
      // Like the PostgreSQL store: applied only while the saga is in the
      // state the write assumed.
      if (s.status != w.expect_status || s.payment_status != w.expect_payment
          || s.inventory_status != w.expect_inventory) {
        if (!w.event_id.empty())
          db->processed.erase({"orchestrator", w.event_id});
        return write_outcome::stale;
      }
      if (w.payment_status != payment_state::none)
        s.payment_status = w.payment_status;
      if (w.inventory_status != inventory_state::none)
        s.inventory_status = w.inventory_status;
      if (w.final_status != order_status::fresh) {
        s.status = w.final_status;
        s.reason = w.reason;
        db->events.emplace_back("order.status.changed", w.order_id);
      }
      if (w.release)
        db->events.emplace_back("inventory.release", w.order_id);
      if (w.refund)
        db->events.emplace_back("payment.refund", w.order_id);
      db->saga_writes.push_back(w);
      if (db->unknown_commit_next > 0) {
        --db->unknown_commit_next;
        return make_error(troupe_errc::commit_unknown, "injected: no answer "
                                                       "to the commit");
      }
      if (db->lose_reply_next > 0) {
        --db->lose_reply_next;
        // A promise that is never delivered: the sender's request times out.
        return self->make_response_promise<write_outcome>();
      }
      return write_outcome::applied;
    },
    [=](load_saga& q) -> caf::result<saga_snapshot> {
      if (db->fail_loads_next > 0) {
        --db->fail_loads_next;
        return make_error(troupe_errc::storage_unavailable, "simulated outage");
      }
      auto i = db->orders.find(q.order_id);
      if (i == db->orders.end()) {
        saga_snapshot none;
        none.order_id = q.order_id;
        return none;
      }
      return i->second;
    },
    [=](list_open_sagas& q) -> std::vector<saga_snapshot> {
      std::vector<saga_snapshot> result;
      for (auto& [id, s] : db->orders)
        if (s.status == order_status::fresh
            && (q.within_ms < 0 || s.deadline_in_ms < q.within_ms))
          result.push_back(s);
      return result;
    },
  };
}

} // namespace troupe::test
