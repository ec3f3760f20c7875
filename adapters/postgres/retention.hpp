// Retention: deletes rows that nothing needs any more, in small batches.
//
//   every `interval`:  pg_try_advisory_lock ──no──▶ another node runs it: wait
//                            │ yes
//                            ▼
//   processed_events ─▶ order_timeline ─▶ dead_letters ─▶ outbox (published)
//     each: DELETE … WHERE ctid = ANY(ARRAY(SELECT ctid … LIMIT batch)),
//           one short transaction per batch, `pause` between batches,
//           the next table once a batch comes back short
//
// What goes, and why it is safe:
// - `processed_events` older than `processed_events`: the row only has to
//   outlive every redelivery of its event. Offsets are committed right after
//   the work commits, so a redelivery happens within seconds or minutes (a
//   crash, a rebalance, an outage); the age (days by default) is far above
//   that. It must also exceed the topics' retention when a group's committed
//   offsets can expire (consumers then restart at `earliest`).
// - `order_timeline` rows older than `timeline`, of orders that became final
//   more than `timeline` ago; open orders keep their whole timeline.
// - `dead_letters` created more than `dead_letters` ago (redriven or not).
// - `outbox` rows published more than `outbox_published` ago; unpublished
//   rows are never touched.
// An age of zero keeps that table forever.
//
// The advisory lock is held by the retention connection's session, so at
// most one node runs retention at a time and a node that dies releases it
// with its connection. Each batch is its own transaction under a short
// `lock_timeout`: it never holds locks for long nor waits behind the hot path.
//
// Owns one connection; blocking I/O: spawn it detached. Errors are logged
// (once per streak) and the next run starts after `interval`.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <pqxx/connection>

#include "adapters/postgres/connection.hpp"
#include "adapters/postgres/retention_probe.hpp"

namespace troupe {

struct retention_settings {
  std::string url;
  std::chrono::seconds processed_events{std::chrono::hours(7 * 24)};
  std::chrono::seconds timeline{std::chrono::hours(30 * 24)};
  std::chrono::seconds dead_letters{std::chrono::hours(30 * 24)};
  std::chrono::seconds outbox_published{std::chrono::hours(24)};
  int32_t batch = 1000;                      ///< rows per DELETE
  std::chrono::milliseconds pause{100};      ///< between two batches
  std::chrono::milliseconds interval{60000}; ///< between two runs
};

enum class retention_table : uint8_t {
  processed_events,
  timeline,
  dead_letters,
  outbox,
};

constexpr std::array<retention_table, 4> retention_tables{
  retention_table::processed_events, retention_table::timeline,
  retention_table::dead_letters, retention_table::outbox};

/// The table's name, also the `table` label of the metric.
const char* to_string(retention_table t);

/// Deletes at most `cfg.batch` rows of `t` in one transaction of `conn`;
/// returns how many it deleted (0 when the table's age is zero). Throws on
/// database errors.
int64_t retention_batch(pqxx::connection& conn, retention_table t,
                        const retention_settings& cfg);

/// Takes the cluster-wide retention lock for `conn`'s session, if free.
bool try_retention_lock(pqxx::connection& conn);

/// Releases it.
void release_retention_lock(pqxx::connection& conn);

struct retention_state {
  static inline const char* name = "retention";
  retention_settings cfg;
  std::unique_ptr<pg_connection> conn; ///< holds the advisory lock
  size_t table = 0;    ///< index into retention_tables of the current run
  bool locked = false; ///< holds the advisory lock (a run is under way)
  int64_t run_deleted = 0;
  bool failing = false; ///< the last run failed (log once per streak)
  retention_probe probe;
  ~retention_state();
};

/// Runs retention every `cfg.interval`, the first run right away.
caf::behavior retention(caf::stateful_actor<retention_state>* self,
                        retention_settings cfg);

} // namespace troupe
