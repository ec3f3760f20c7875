// The in-memory event bus's adapters for the node: the HTTP read side
// (`order_reads`) and admission control's count of open orders over the
// in-memory database (sim/memory_store.hpp), with the JSON shapes of
// PostgreSQL's (adapters/postgres/queries.cpp), so the web UI and API
// clients see no difference.
//
//   [http api] ──read──▶ memory_reads ──(memory_db::mtx)──▶ memory_db
//   [admission gate thread] ──count──▶ memory_open_orders ──┘
//
// Threads: called from HTTP workers and the gate's thread; every call holds
// the database's lock for its duration (a scan of the rows it reads).
#pragma once

#include <memory>

#include "adapters/http/order_reads.hpp"
#include "runtime/admission.hpp"
#include "sim/memory_store.hpp"

namespace troupe {

class memory_reads : public order_reads {
public:
  explicit memory_reads(std::shared_ptr<sim::memory_db> db);

  std::optional<nlohmann::json> get_order(const std::string& id) override;
  nlohmann::json list_orders(const std::string& status, int limit,
                             const std::string& ref) override;
  nlohmann::json get_orders(const std::vector<std::string>& ids) override;
  nlohmann::json list_dead_letters(int limit) override;
  /// Always empty: the in-memory bus never refuses a row for good.
  nlohmann::json list_set_aside(int limit) override;
  bool redrive_dead_letter(int64_t id) override;
  std::pair<int64_t, double> outbox_backlog() override;

private:
  std::shared_ptr<sim::memory_db> db_;
};

/// The orders with status NEW in `db`.
admission_gate::counter memory_open_orders(std::shared_ptr<sim::memory_db> db);

/// `ms` since the epoch as PostgreSQL's read side formats timestamps
/// (`2026-01-02T03:04:05.678Z`).
std::string iso_timestamp(int64_t ms);

} // namespace troupe
