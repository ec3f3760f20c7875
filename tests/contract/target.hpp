// The contract suite's view of a store: its actors and the few rows the
// stories read back. One implementation per store binding: the in-memory
// store (tests/unit/contract_memory.cpp) and PostgreSQL's
// (tests/integration/contract_postgres.cpp); the stories are written once
// against this interface (tests/contract/stories.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/commands.hpp"
#include "adapters/http/order_reads.hpp"

namespace troupe::test {

/// Owns an actor system for the stores it spawns; a derived target stops
/// its stores in its destructor, before the system goes.
class store_target {
public:
  virtual ~store_target() = default;

  /// The store of node `node`, spawned on first use. Every order is on
  /// partition 0, and saga writes are fenced by its owner.
  virtual node_store_actor store(const std::string& node) = 0;

  /// Node `node` claims partition 0, as after a rebalance.
  virtual void claim(const std::string& node) = 0;

  /// Available stock of `sku`; -1 when the SKU has no row yet.
  virtual int64_t stock(const std::string& sku) = 0;

  /// Topics of the outbox rows keyed `key`, in the order they were written.
  virtual std::vector<std::string> outbox_topics(const std::string& key) = 0;

  /// Reasons of the `inventory.result` events of an order, in order (none:
  /// reserved).
  virtual std::vector<cancel_reason>
  inventory_outcomes(const std::string& order_id) = 0;

  /// The SKUs the last `inventory.result` event of an order names as short
  /// of stock, in the order's lines order.
  virtual std::vector<std::string> short_skus(const std::string& order_id) = 0;

  /// Status of an order as on the wire (`NEW`, ...); "" when unknown.
  virtual std::string order_status(const std::string& order_id) = 0;

  /// Kinds of an order's timeline entries as on the wire, in order.
  virtual std::vector<std::string> timeline(const std::string& order_id) = 0;

  /// Rows of `dead_letters`.
  virtual int64_t dead_letters() = 0;

  /// The HTTP API's read side over this store's database.
  virtual std::shared_ptr<order_reads> reads() = 0;

  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
};

} // namespace troupe::test
