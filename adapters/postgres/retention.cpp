// Retention in batches under a cluster-wide advisory lock.
#include "adapters/postgres/retention.hpp"
#include "adapters/postgres/connection.hpp"

#include <pqxx/pqxx>

#include "observability/log.hpp"

namespace troupe {

namespace {

constexpr long long retention_lock = 7277278; // migrations use 7277277

using run_atom = caf::atom_constant<caf::atom("retrun")>;
using batch_atom = caf::atom_constant<caf::atom("retbatch")>;

std::chrono::seconds age_of(retention_table t, const retention_settings& cfg) {
  switch (t) {
    case retention_table::processed_events:
      return cfg.processed_events;
    case retention_table::timeline:
      return cfg.timeline;
    case retention_table::dead_letters:
      return cfg.dead_letters;
    case retention_table::outbox:
      return cfg.outbox_published;
  }
  return std::chrono::seconds{0};
}

/// One batch: the ctids of at most $2 rows older than $1 seconds, oldest
/// first (through the indexes of migration 005), then a TID-scan delete.
const char* batch_sql(retention_table t) {
  switch (t) {
    case retention_table::processed_events:
      return "DELETE FROM processed_events WHERE ctid = ANY(ARRAY("
             "SELECT ctid FROM processed_events WHERE processed_at < "
             "now() - make_interval(secs => $1) ORDER BY processed_at "
             "LIMIT $2))";
    case retention_table::timeline:
      // Only orders final for longer than the age; finalized_at is set
      // exactly when an order leaves NEW.
      return "DELETE FROM order_timeline WHERE ctid = ANY(ARRAY("
             "SELECT t.ctid FROM order_timeline t JOIN orders o "
             "ON o.id = t.order_id WHERE t.at < now() - make_interval(secs "
             "=> $1) AND o.status <> 'NEW' AND o.finalized_at < now() - "
             "make_interval(secs => $1) ORDER BY t.at LIMIT $2))";
    case retention_table::dead_letters:
      return "DELETE FROM dead_letters WHERE ctid = ANY(ARRAY("
             "SELECT ctid FROM dead_letters WHERE created_at < now() - "
             "make_interval(secs => $1) ORDER BY created_at LIMIT $2))";
    case retention_table::outbox:
      return "DELETE FROM outbox WHERE ctid = ANY(ARRAY("
             "SELECT ctid FROM outbox WHERE published_at < now() - "
             "make_interval(secs => $1) ORDER BY published_at LIMIT $2))";
  }
  return "";
}

using retention_ptr = caf::stateful_actor<retention_state>*;

void schedule_run(retention_ptr self) {
  self->delayed_send(self, self->state.cfg.interval, run_atom::value);
}

void failed(retention_ptr self, const std::exception& e) {
  auto& st = self->state;
  if (!st.failing)
    log::warn("retention", "run failed, next in {} ms: {}",
              st.cfg.interval.count(), e.what());
  st.failing = true;
  if (st.conn)
    st.conn->reset(); // also releases the advisory lock
  st.locked = false;
  schedule_run(self);
}

void start_run(retention_ptr self) {
  auto& st = self->state;
  try {
    if (!st.conn)
      st.conn = std::make_unique<pg_connection>(
        st.cfg.url, "retention", [](pqxx::connection& c) {
          pqxx::nontransaction tx{c};
          // Never queue behind the hot path's row locks for long.
          tx.exec("SET lock_timeout = '2s'");
          tx.exec("SET statement_timeout = '60s'");
        });
    if (!try_retention_lock(st.conn->open())) {
      log::debug("retention", "another node runs retention");
      schedule_run(self);
      return;
    }
    st.locked = true;
    st.table = 0;
    st.run_deleted = 0;
    self->send(self, batch_atom::value);
  } catch (const std::exception& e) {
    failed(self, e);
  }
}

void run_batch(retention_ptr self) {
  auto& st = self->state;
  if (!st.locked || st.table >= retention_tables.size())
    return;
  try {
    auto table = retention_tables[st.table];
    auto n = retention_batch(st.conn->open(), table, st.cfg);
    if (n > 0) {
      st.probe.deleted(table, n);
      st.run_deleted += n;
    }
    if (n < st.cfg.batch)
      ++st.table; // caught up with this table
    if (st.table < retention_tables.size()) {
      self->delayed_send(self, st.cfg.pause, batch_atom::value);
      return;
    }
    release_retention_lock(st.conn->open());
    st.locked = false;
    if (st.failing || st.run_deleted > 0)
      log::info("retention", "deleted {} row(s)", st.run_deleted);
    st.failing = false;
    schedule_run(self);
  } catch (const std::exception& e) {
    failed(self, e);
  }
}

} // namespace

const char* to_string(retention_table t) {
  switch (t) {
    case retention_table::processed_events:
      return "processed_events";
    case retention_table::timeline:
      return "order_timeline";
    case retention_table::dead_letters:
      return "dead_letters";
    case retention_table::outbox:
      return "outbox";
  }
  return "?";
}

int64_t retention_batch(pqxx::connection& conn, retention_table t,
                        const retention_settings& cfg) {
  auto age = age_of(t, cfg);
  if (age.count() <= 0 || cfg.batch <= 0)
    return 0;
  pqxx::work tx{conn};
  auto r = tx.exec_params(batch_sql(t), static_cast<double>(age.count()),
                          cfg.batch);
  tx.commit();
  return static_cast<int64_t>(r.affected_rows());
}

bool try_retention_lock(pqxx::connection& conn) {
  pqxx::nontransaction tx{conn};
  auto r = tx.exec("SELECT pg_try_advisory_lock("
                   + std::to_string(retention_lock) + ")");
  return r[0][0].as<bool>();
}

void release_retention_lock(pqxx::connection& conn) {
  pqxx::nontransaction tx{conn};
  tx.exec("SELECT pg_advisory_unlock(" + std::to_string(retention_lock) + ")");
}

retention_state::~retention_state() = default;

caf::behavior retention(caf::stateful_actor<retention_state>* self,
                        retention_settings cfg) {
  self->state.cfg = std::move(cfg);
  self->send(self, run_atom::value);
  return {
    [=](run_atom) { start_run(self); },
    [=](batch_atom) { run_batch(self); },
  };
}

} // namespace troupe
