// Group commit without a database client: the queue of a store's commands,
// their batching into transactions, and what happens when a transaction
// fails. Shared by the PostgreSQL shards (adapters/postgres/pg_store.cpp)
// and the simulated store (sim/memory_store.cpp), so production and the
// simulator run the same batching and the same failure policy.
//
//   add(job) ──▶ queue ──(the first job schedules a flush: every command
//                         already in the mailbox joins the batch)
//   flush() ──▶ batches of at most max_batch ──▶ backend.run(batch)
//     committed            ──▶ the replies, delivered after the commit only
//     no connection        ──▶ every job fails (storage_unavailable)
//     commit unknown       ──▶ every job runs again alone: each command is
//                              idempotent and answers what is now true
//     spoiled (one bad)    ──▶ every job runs alone: the bad one fails alone
//     outage, one job, or
//     connection closed    ──▶ every job fails with the error
//
// The backend runs a batch in one transaction (the PostgreSQL shard with its
// set-oriented statements and stock locks; the memory store with its
// injected faults) and classifies its errors. Owned by one store actor and
// run on its thread; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace troupe {

/// One command waiting for its transaction. Each backend derives its own
/// (the command and its response promise); the core only fails them.
struct commit_job {
  virtual ~commit_job() = default;
  /// Answers the command with `err`: it was not applied, or it may have
  /// been and its re-run could not tell.
  virtual void fail(const caf::error& err) = 0;
};

/// What to do after a commit for one job (deliver its reply); empty:
/// nothing (a simulated reply lost on its way).
using commit_reply = std::function<void()>;

/// What a failed transaction means for its jobs.
enum class batch_failure : uint8_t {
  unknown, ///< it may have committed: every job runs again alone
  spoiled, ///< one command failed it: every job runs alone
  outage,  ///< the store is unreachable or the connection closed: all fail
};

const char* to_string(batch_failure x);

/// The classification by Troupe's error tiers: commit_unknown is `unknown`,
/// the outage tier is `outage`, anything else `spoiled`.
batch_failure classify_by_tier(const caf::error& err);

/// What a store supplies to the core.
class commit_backend {
public:
  virtual ~commit_backend() = default;

  /// None when a transaction can run now (connecting first if needed);
  /// otherwise the error every job of the batch fails with.
  virtual caf::error connect() = 0;

  /// Runs `jobs` in one transaction. Committed: one reply per job, which
  /// the core delivers. Failed: the error, and nothing is delivered.
  virtual caf::expected<std::vector<commit_reply>>
  run(const std::vector<commit_job*>& jobs) = 0;

  /// What `err`, returned by `run`, means for the batch.
  virtual batch_failure classify(const caf::error& err) {
    return classify_by_tier(err);
  }

  /// Told before the jobs of a failed batch run again one by one.
  virtual void rerunning(batch_failure, size_t, const caf::error&) {
    // nop
  }
};

class group_commit {
public:
  /// `schedule_flush` makes the owner call flush() after what is already
  /// in its mailbox (a message to itself).
  group_commit(std::unique_ptr<commit_backend> backend, size_t max_batch,
               std::function<void()> schedule_flush);

  /// Queues `job` for the next transaction.
  void add(std::unique_ptr<commit_job> job);

  /// Runs every queued job, in batches of at most max_batch, in order.
  void flush();

  size_t queued() const {
    return queue_.size();
  }

  commit_backend& backend() {
    return *backend_;
  }

private:
  using batch = std::vector<std::unique_ptr<commit_job>>;

  void commit(batch& jobs);
  void run_alone(commit_job& job);

  std::unique_ptr<commit_backend> backend_;
  size_t max_batch_;
  std::function<void()> schedule_flush_;
  batch queue_;
  bool flush_scheduled_ = false;
};

} // namespace troupe
