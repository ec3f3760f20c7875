// The store's commands, one function each, run inside a shard's
// transaction (pg_store.cpp batches them). Each is idempotent: run again
// after an unknown commit, it answers what is now true.
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <pqxx/transaction>

#include "actors/commands.hpp"
#include "actors/messages.hpp"
#include "adapters/postgres/fencing.hpp"

namespace troupe::pg {

// The kinds a batch runs one command at a time. The set-oriented kinds
// (below) have only their `exec_many`: a batch, or a command run alone
// after a failed batch, runs them through it.
cancel_answer exec(pqxx::work& tx, const cancel_order& c);
write_outcome exec(pqxx::work& tx, const refund_cmd& c);
write_outcome exec(pqxx::work& tx, const release_cmd& c);
/// The fencing of one transaction. A token found valid stays valid until
/// the commit (its partition_owners row is held FOR SHARE), so each is
/// checked once per transaction, however many writes of the batch need it;
/// the saga writes of a batch check all their tokens in one statement.
struct fence_scope {
  partition_fence* fence = nullptr;
  std::vector<std::pair<int32_t, int64_t>> held;
  std::vector<std::pair<int32_t, int64_t>> refused; ///< found stale
};

std::vector<saga_snapshot> exec(pqxx::work& tx, const list_open_sagas& c);
write_outcome exec(pqxx::work& tx, const dead_letter& d);
write_outcome exec(pqxx::work& tx, const retry_note& n);

/// Commands that a batch runs set-oriented: every command of the kind in
/// the batch in one statement (`exec_many`), each still applied at most
/// once and answered as if it ran alone.
template <class Cmd>
struct set_oriented : std::false_type {};
template <>
struct set_oriented<payment_cmd> : std::true_type {};
template <>
struct set_oriented<notify_cmd> : std::true_type {};
template <>
struct set_oriented<analytics_cmd> : std::true_type {};
template <>
struct set_oriented<saga_write> : std::true_type {};
template <>
struct set_oriented<reserve_cmd> : std::true_type {};
template <>
struct set_oriented<create_order> : std::true_type {};
template <>
struct set_oriented<load_saga> : std::true_type {};

std::vector<write_outcome> exec_many(pqxx::work& tx,
                                     const std::vector<payment_cmd>& cs);
std::vector<write_outcome> exec_many(pqxx::work& tx,
                                     const std::vector<notify_cmd>& cs);
std::vector<write_outcome> exec_many(pqxx::work& tx,
                                     const std::vector<analytics_cmd>& cs);
/// Creates the orders in one statement; an order whose id or reference is
/// taken already is answered with the order that holds it.
std::vector<created_order> exec_many(pqxx::work& tx,
                                     const std::vector<create_order>& cs);
/// The snapshots of the orders, each in one statement of the batch; an
/// unknown order's has `found` false.
std::vector<saga_snapshot> exec_many(pqxx::work& tx,
                                     const std::vector<load_saga>& cs);
/// Reserves in command order against the stock rows as locked once: an
/// earlier command of the batch takes its stock before a later one looks.
std::vector<write_outcome> exec_many(pqxx::work& tx,
                                     const std::vector<reserve_cmd>& cs);
/// Refused as `fenced` when the fence says this node no longer owns the
/// order's partition.
std::vector<write_outcome> exec_many(pqxx::work& tx,
                                     const std::vector<saga_write>& ws,
                                     fence_scope* fence);

/// The stock rows a command locks: the SKUs of its lines.
template <class Cmd>
std::vector<std::string> stock_of(const Cmd&) {
  return {};
}
std::vector<std::string> stock_of(const reserve_cmd& c);
std::vector<std::string> stock_of(const release_cmd& c);

/// Locks the stock rows of `skus` that exist, in SKU order. A batch takes
/// the locks of all its commands first, so two batches that touch
/// overlapping SKUs wait for each other instead of deadlocking.
void lock_stock(pqxx::work& tx, std::vector<std::string> skus);

/// Runs the commands of a set-oriented kind with what they need from their
/// shard (the fence).
template <class Cmd>
auto run_many(pqxx::work& tx, fence_scope* fence, const std::vector<Cmd>& cs) {
  if constexpr (std::is_same_v<Cmd, saga_write>)
    return exec_many(tx, cs, fence);
  else
    return exec_many(tx, cs);
}

/// Runs one command of a kind that is not set-oriented.
template <class Cmd>
auto run_command(pqxx::work& tx, const Cmd& cmd) {
  static_assert(!set_oriented<Cmd>::value, "runs through run_many");
  return exec(tx, cmd);
}

} // namespace troupe::pg
