// An in-memory store behind the domain's storage port, with the semantics
// of the PostgreSQL adapter: effects once per event id, stock reserved and
// released at most once per order, a final status written at most once.
// Tests read and prepare its state directly and can make writes fail.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/typed_event_based_actor.hpp>

#include "actors/messages.hpp"
#include "actors/store.hpp"

namespace troupe::test {

struct fake_db {
  std::map<std::string, saga_snapshot> orders;
  std::set<std::pair<std::string, std::string>> processed;
  std::map<std::string, int64_t> stock;
  std::map<std::string, std::pair<std::string, int32_t>>
    reservations;                       ///< RESERVED/RELEASED, qty
  std::map<std::string, bool> payments; ///< order -> approved
  std::set<std::string> refunded;
  std::vector<saga_write> saga_writes; ///< applied ones, in order
  std::vector<std::pair<std::string, std::string>> events; ///< (topic, order)
  int fail_next = 0; ///< this many writes fail with storage_unavailable
  /// This many saga writes are applied but answered with commit_unknown
  /// (the commit happened; its acknowledgement did not arrive).
  int unknown_commit_next = 0;
  /// This many saga writes are applied but never answered (the reply is
  /// lost; the sender's request times out).
  int lose_reply_next = 0;
  /// This many saga writes are refused as `fenced` (another node claimed
  /// the order's partition).
  int fenced_next = 0;
  /// This many saga loads fail with storage_unavailable.
  int fail_loads_next = 0;

  /// Adds an open order whose deadline is `deadline_in_ms` away.
  saga_snapshot& add_order(const std::string& id, int64_t deadline_in_ms,
                           int32_t quantity = 1, int64_t amount = 1000);

  size_t count_events(const std::string& topic,
                      const std::string& order_id) const;
};

struct fake_store_state {
  static inline const char* name = "fake_store";
  std::shared_ptr<fake_db> db;
};

store_actor::behavior_type
fake_store(store_actor::stateful_pointer<fake_store_state> self,
           std::shared_ptr<fake_db> db);

} // namespace troupe::test
