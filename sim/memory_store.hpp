// The store with PostgreSQL's semantics, in memory.
//
//   [node a: memory_store] ──┐
//   [node b: memory_store] ──┼──▶ memory_db (orders, outbox, stock, ...)
//   [node c: memory_store] ──┘     one shared database, like PostgreSQL
//
// `memory_db` holds the rows of the schema in migrations/*.sql that the
// saga's commands touch; a `memory_store` actor per node answers the
// `node_store_actor` interface with what adapters/postgres/store_commands.cpp
// does: effects once per (consumer, event id), every state change committed
// with its outbox events and timeline (or nothing of it), a final status
// written at most once, stock reserved and released at most once per order,
// saga writes fenced by partition ownership. The contract suite
// (tests/contract/stories.hpp) runs the same stories against both stores.
//
// A memory store runs its commands through the group-commit core of the
// PostgreSQL shards (runtime/group_commit.hpp): the commands that arrive
// while its "transaction" is open are applied together when its flush
// message runs, so a simulator decides what interleaves, and a failed batch
// is handled by the same policy as in production. One batch is one commit
// of the database, which the fault plan can fail (nothing applied) or leave
// unknown (everything applied, the core re-runs every command alone).
//
// Each command is atomic on its own and changes nothing when it violates a
// constraint: it answers its error and the rest of the batch commits. That
// is what PostgreSQL's store ends with after a spoiled batch (the batch
// rolls back, each command runs alone, the bad one fails), so the memory
// store does not roll back a batch to get there.
//
// Ownership and threads: the database is owned by whoever creates it (the
// simulator, a test fixture) and shared through `std::shared_ptr`. Store
// actors take `mtx` while they apply a batch, so stores of several nodes may
// run on a real scheduler; tests under the test coordinator (one thread)
// read and prepare the rows directly.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/commands.hpp"
#include "actors/messages.hpp"
#include "runtime/group_commit.hpp"

namespace troupe::sim {

/// A row of `orders`.
struct order_row {
  std::string order_id;
  std::string correlation_id;
  std::string idempotency_key; ///< empty: none
  std::string customer_email;
  std::string sku;          ///< the first line's SKU
  int32_t quantity = 0;     ///< the total quantity
  int64_t amount_cents = 0; ///< the sum of the lines
  order_lines lines;        ///< `order_lines`; empty: one line of the above
  order_status status = order_status::fresh;
  cancel_reason reason = cancel_reason::none;
  payment_state payment_status = payment_state::none;
  inventory_state inventory_status = inventory_state::none;
  int64_t deadline_at_ms = 0;    ///< on the database's clock
  int64_t created_at_ms = 0;     ///< on the database's clock
  int64_t updated_at_ms = 0;     ///< on the database's clock
  int64_t finalized_at_ms = 0;   ///< 0: NULL (not final)
  bool cancel_requested = false; ///< `cancel_requested_at IS NOT NULL`
  int64_t cancel_requested_at_ms = 0;
  std::string traceparent; ///< empty: NULL
};

/// A row of `payments`.
struct payment_row {
  bool approved = false;
  cancel_reason reason = cancel_reason::none;
  int64_t amount_cents = 0;
  bool refunded = false;
};

enum class reservation_status : uint8_t { reserved, released };

/// The rows of `reservations` of one order: every line is reserved and
/// released together.
struct reservation_row {
  std::string sku;      ///< the first line's SKU
  int32_t quantity = 0; ///< the total quantity
  reservation_status status = reservation_status::reserved;
  order_lines lines; ///< empty: one line of `sku` and `quantity`
};

/// The lines an order or a reservation holds.
order_lines lines_of(const order_row& o);
order_lines lines_of(const reservation_row& r);

/// A row of `order_timeline`.
struct timeline_row {
  std::string order_id;
  timeline_kind kind = timeline_kind::created;
  /// What PostgreSQL keeps in `detail`, as `key=value` pairs.
  std::vector<std::pair<std::string, std::string>> detail;
  int64_t at_ms = 0; ///< on the database's clock
};

/// What an outbox row carries: the event as the domain knows it (with the
/// event id the envelope got), or nothing for a dead letter's raw message.
using outbox_event = std::variant<std::monostate, order_created, payment_result,
                                  inventory_result, status_changed,
                                  compensation, cancel_requested>;

/// A row of `outbox`. Payload fields beside the domain event (the amount of
/// `payment.result` and `payment.refund`, the SKU and quantity of
/// `inventory.result`) are kept next to it.
struct outbox_row {
  int64_t id = 0;
  std::string topic;
  std::string key; ///< the order id; a dead letter's own key
  outbox_event event;
  int64_t amount_cents = 0;
  std::string sku;
  int32_t quantity = 0;
  order_lines lines;                   ///< `inventory.result` only
  std::vector<std::string> short_skus; ///< `inventory.result` only
  std::string payload; ///< dead letters only: the message as received
  std::string correlation_id;
  bool published = false;
  int64_t created_at_ms = 0; ///< on the database's clock
};

/// A row of `analytics_sku_daily` (one day: the simulation's).
struct analytics_row {
  int64_t orders = 0;
  int64_t quantity = 0;
  int64_t amount_cents = 0;
};

/// A row of `partition_owners`.
struct owner_row {
  std::string owner;
  int64_t generation = 0;
};

/// Faults the store injects, deterministically, in the order commands are
/// applied. Each counter is spent by the commands (or commits) it hits.
struct fault_plan {
  int fail_next = 0; ///< this many writes fail with storage_unavailable
  /// This many commits (a batch, or one command run alone after a failed
  /// batch) fail with storage_unavailable: nothing of them is applied.
  int fail_commit_next = 0;
  /// This many commits are applied but answered with commit_unknown (the
  /// commit happened; its acknowledgement did not arrive). The group-commit
  /// core then runs every command of the batch again alone; a re-run that
  /// hits this fault too answers its sender with commit_unknown.
  int unknown_commit_next = 0;
  /// This many commits go through before `unknown_commit_next` strikes.
  int unknown_commit_after = 0;
  /// This many saga writes are applied but never answered (the reply is
  /// lost; the sender's request times out).
  int lose_reply_next = 0;
  /// This many saga writes are applied but answered only `slow_reply_ms`
  /// later (the sender's request may have timed out by then).
  int slow_reply_next = 0;
  int64_t slow_reply_ms = 0;
  /// This many saga writes are refused as `fenced` (another node claimed
  /// the order's partition).
  int fenced_next = 0;
  /// This many saga loads fail with storage_unavailable.
  int fail_loads_next = 0;
};

/// The shared database. Field names follow the tables of migrations/*.sql.
struct memory_db {
  std::map<std::string, order_row> orders;
  std::set<std::pair<std::string, std::string>> processed; ///< (consumer, id)
  std::map<std::string, int64_t> stock;                    ///< SKU -> available
  std::map<std::string, reservation_row> reservations;     ///< by order
  std::map<std::string, payment_row> payments;             ///< by order
  std::set<std::pair<std::string, order_status>> notifications;
  std::map<std::string, analytics_row> analytics; ///< by SKU
  std::vector<timeline_row> timeline;
  std::vector<outbox_row> outbox;
  std::vector<dead_letter> dead_letters; ///< as stored (text escaped)
  /// When each dead letter was stored and, if so, redriven, by its id (its
  /// position in `dead_letters` + 1, like the serial of PostgreSQL's).
  std::map<int64_t, int64_t> dead_lettered_at_ms, redriven_at_ms;
  std::map<int32_t, owner_row> partition_owners;
  /// What each node knows of its claims: partition -> generation (the
  /// node-local half of fencing, `partition_fence` in PostgreSQL's store).
  std::map<std::string, std::map<int32_t, int64_t>> claims;
  /// Every saga write that was applied, in commit order.
  std::vector<saga_write> saga_writes;
  /// Sees each saga write as it is applied, with the node whose store
  /// applied it (a simulator's checks after every step).
  std::function<void(const std::string& node, const saga_write&)> on_saga_write;
  fault_plan faults;
  /// The database's clock in milliseconds (`clock_timestamp()`); the wall
  /// clock unless a simulator or test installs its own.
  std::function<int64_t()> clock;
  std::mutex mtx; ///< held by store actors while they apply a batch

  memory_db();
  memory_db(const memory_db&) = delete;
  memory_db& operator=(const memory_db&) = delete;

  int64_t now() const;

  /// Adds an open order whose deadline is `deadline_in_ms` away.
  order_row& add_order(const std::string& id, int64_t deadline_in_ms,
                       int32_t quantity = 1, int64_t amount = 1000);

  /// What `load_saga` answers for `id`.
  saga_snapshot snapshot(const std::string& id) const;

  /// Outbox rows of `topic` whose key is `key`.
  size_t count_events(const std::string& topic, const std::string& key) const;

  /// Node `node` claims `parts`: each partition's generation goes up by one
  /// and the node knows the new generation (what a rebalance does).
  void claim(const std::string& node, const std::vector<int32_t>& parts);

  /// Node `node` forgets `parts` (revoked); the owner rows stay.
  void release(const std::string& node, const std::vector<int32_t>& parts);

  /// A fresh event id for an outbox row, in UUID form; deterministic.
  std::string next_event_id();

  int64_t next_outbox_id = 1;
  uint64_t next_event = 1;
};

/// How one node's store sees the database.
struct memory_store_settings {
  std::string node_id = "node";
  /// Maps an order id to its partition (-1 while unknown); empty: saga
  /// writes are not fenced (PostgreSQL's store without a fence).
  std::function<int32_t(const std::string&)> partition_of;
  /// Commands per commit at most (PostgreSQL's `postgres.max-batch`).
  size_t max_batch = 256;
};

/// To a store itself: a reply held back by `slow_reply_next` is due.
using late_atom = caf::atom_constant<caf::atom("late")>;

/// A store answers the node's commands; `flush_atom` applies its queue.
using memory_store_actor
  = node_store_actor::extend<caf::reacts_to<flush_atom>,
                             caf::reacts_to<late_atom, uint64_t>>;

struct memory_store_state {
  static inline const char* name = "memory_store";
  std::shared_ptr<memory_db> db;
  memory_store_settings cfg;
  std::unique_ptr<group_commit> commits;          ///< its batches, as a shard's
  std::map<uint64_t, std::function<void()>> late; ///< held-back replies
  uint64_t next_late = 0;
};

memory_store_actor::behavior_type
memory_store(memory_store_actor::stateful_pointer<memory_store_state> self,
             std::shared_ptr<memory_db> db, memory_store_settings cfg);

/// Spawns one node's store over `db` (a plain actor: under the test
/// coordinator it runs on the simulated scheduler).
node_store_actor spawn_memory_store(caf::actor_system& sys,
                                    std::shared_ptr<memory_db> db,
                                    memory_store_settings cfg = {});

} // namespace troupe::sim
