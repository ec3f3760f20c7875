// Fencing tokens for saga writes.
//
// When the orchestrator consumer of a node is assigned partitions, the node
// claims them in `partition_owners`, which bumps each partition's generation.
// Every saga write of an order carries (partition, generation) as this node
// knows it, and the store checks it inside the write's transaction (holding a
// share lock on the owner row, so a concurrent claim waits for the write or
// the write sees the claim). A node that lost a partition but has not noticed
// yet therefore cannot commit saga writes for it.
//
// A claim may fail (PostgreSQL down during a rebalance). Until it succeeds,
// the assigned partitions are *unclaimed*: saga writes for them throw
// `partition_unclaimed`, which the store answers with the retryable
// `storage_unavailable` (delivery waits), never with `fenced` (which gives the
// work away). A `partition_claimer` retries the claim in the background.
//
//   consumer thread, on assignment ──assign()──▶ [fence] ◀──token()── store shards
//                        └──wake()──▶ [claimer thread] ──claim (1 connection,
//                                          backoff)──▶ partition_owners
//                                          └─ on_claimed(parts): rehydrate
//
// Shared between the consumer thread (assign, release), the claimer thread
// and the store's shard actors (tokens): guarded by a mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <pqxx/connection>

#include "adapters/postgres/connection.hpp"

namespace troupe {

/// A saga write for a partition that is assigned to this node but not
/// claimed yet: retryable (the store reports `storage_unavailable`).
class partition_unclaimed : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class partition_fence {
public:
  /// `partition_of` maps an order id to its partition (Kafka's partitioner),
  /// or -1 while the partition count is unknown.
  partition_fence(std::string pg_url, std::string node_id,
                  std::function<int32_t(const std::string&)> partition_of);

  /// Claims `parts` for this node at once on a new connection; throws on
  /// database errors.
  void claim(const std::vector<int32_t>& parts);

  /// Records an assignment: `parts` are unclaimed until a claim succeeds
  /// (see `partition_claimer`). Never blocks on the database.
  void assign(const std::vector<int32_t>& parts);

  /// Forgets `parts` (revoked), claimed or not.
  void release(const std::vector<int32_t>& parts);

  /// (partition, generation) for an order this node owns, if any. Throws
  /// `partition_unclaimed` while its partition is assigned but unclaimed, or
  /// while partitions are assigned and the partition count is unknown.
  std::optional<std::pair<int32_t, int64_t>> token(const std::string& order_id);

  /// Sets the generation directly (tests simulate a node that missed a
  /// rebalance this way).
  void assume(int32_t partition, int64_t generation);

  /// Assigned partitions waiting for a claim, each with the assignment it
  /// belongs to (a later assignment of the same partition supersedes it).
  std::map<int32_t, uint64_t> unclaimed();

  /// Claims `parts` in one transaction on `conn`; returns the generations.
  /// Throws on database errors.
  std::map<int32_t, int64_t> claim_on(pqxx::connection& conn,
                                      const std::vector<int32_t>& parts);

  /// Applies a claim of the partitions in `attempted` (from `unclaimed()`)
  /// that are still waiting for that same assignment; returns them.
  std::vector<int32_t> claimed(const std::map<int32_t, uint64_t>& attempted,
                               const std::map<int32_t, int64_t>& generations);

  /// Notes why the last claim failed (for readiness).
  void claim_failed(const std::string& why);

  /// Why this node is not ready to write sagas ("" when every assigned
  /// partition is claimed).
  std::string not_ready_reason();

private:
  std::string url_;
  std::string node_;
  std::function<int32_t(const std::string&)> partition_of_;
  std::mutex mtx_;
  std::map<int32_t, int64_t> generations_;
  std::map<int32_t, uint64_t> unclaimed_; ///< partition -> assignment
  uint64_t assignments_ = 0;
  std::string last_failure_;
};

/// Claims, in the background, what the fence holds as unclaimed: on `wake()`
/// and, after a failure, again with exponential backoff until it succeeds.
/// Owns one connection (reopened after a failure) and one thread; the
/// destructor stops the thread. `on_claimed` runs on that thread.
class partition_claimer {
public:
  struct settings {
    std::chrono::milliseconds base{100};
    std::chrono::milliseconds cap{2000};
  };

  partition_claimer(
    std::shared_ptr<partition_fence> fence, std::string url, settings cfg,
    std::function<void(const std::vector<int32_t>&)> on_claimed);
  ~partition_claimer();
  partition_claimer(const partition_claimer&) = delete;
  partition_claimer& operator=(const partition_claimer&) = delete;

  /// Claims what is unclaimed now (returns at once).
  void wake();

  /// Failed claim attempts so far (tests).
  uint64_t failures() const {
    return failures_;
  }

private:
  void run();

  std::shared_ptr<partition_fence> fence_;
  std::string url_;
  settings cfg_;
  std::function<void(const std::vector<int32_t>&)> on_claimed_;
  std::unique_ptr<pg_connection> conn_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stop_ = false;
  std::atomic<uint64_t> failures_{0};
  std::thread thread_;
};

} // namespace troupe
