// The PostgreSQL store: the production binding of the domain's store port.
//
//   domain actors ──cmd──▶ [pg_store router] ──delegate──▶ [shard 0] ── conn 0
//                                 (hash of key)           [shard 1] ── conn 1
//                                                          ...
//
// Each shard owns one connection and runs detached (blocking I/O). Commands
// that queue up while a shard's transaction runs are committed together in the
// next one (group commit): throughput is not bounded by one fsync per
// command. Commands are routed by a key (order id, or SKU for stock) so that
// transactions of different shards do not contend for the same rows.
//
// Every command commits its effect, its processed_events row and its outbox
// events in one transaction; the reply is sent after the commit. libpqxx
// exceptions stop here and become errors that say whether a retry helps.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/commands.hpp"
#include "adapters/postgres/fencing.hpp"

namespace troupe {

struct pg_settings {
  std::string url;
  int32_t pool_size = 4;
  int32_t max_batch = 256;
  std::string node_id;
  /// Fencing of saga writes by partition ownership; none: unfenced.
  std::shared_ptr<partition_fence> fence;
};

/// Spawns the shards and their router.
node_store_actor spawn_pg_store(caf::actor_system& sys, const pg_settings& cfg);

} // namespace troupe
