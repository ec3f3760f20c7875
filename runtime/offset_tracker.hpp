// Per-partition offset bookkeeping for at-least-once consumers.
//
// Messages of one partition complete out of order (different orders go to
// different actors). Only the contiguous prefix of completed offsets may be
// committed: committing past an unfinished message would lose it on a crash.
//
// Owned by one consumer actor; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace troupe {

class offset_tracker {
public:
  /// A message at `offset` was handed to a handler.
  void start(int32_t partition, int64_t offset);

  /// The message at `offset` finished (processed or dead-lettered).
  void complete(int32_t partition, int64_t offset);

  /// Offsets to commit (Kafka convention: the next offset to read), for each
  /// partition whose committable position moved since the last call.
  std::vector<std::pair<int32_t, int64_t>> take_commits();

  /// The next offset to read for `partition`, if anything completed there.
  std::optional<int64_t> committable(int32_t partition) const;

  /// Messages started but not completed, over all partitions.
  size_t in_flight() const;

  /// Forgets a partition (revoked).
  void forget(int32_t partition);

private:
  struct partition_state {
    std::set<int64_t> pending;   ///< started, not completed
    int64_t low = -1;            ///< lowest offset started
    int64_t high = -1;           ///< highest offset started
    std::optional<int64_t> next; ///< committable next offset
    std::optional<int64_t> committed;
  };
  void advance(partition_state& p);
  std::map<int32_t, partition_state> parts_;
  size_t in_flight_ = 0;
};

} // namespace troupe
