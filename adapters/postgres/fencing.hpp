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
// Shared between the consumer thread (claims) and the store's shard actors
// (tokens): guarded by a mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace troupe {

class partition_fence {
public:
  /// `partition_of` maps an order id to its partition (Kafka's partitioner).
  partition_fence(std::string pg_url, std::string node_id,
                  std::function<int32_t(const std::string&)> partition_of);

  /// Claims `parts` for this node; throws on database errors.
  void claim(const std::vector<int32_t>& parts);

  /// Forgets `parts` (revoked).
  void release(const std::vector<int32_t>& parts);

  /// (partition, generation) for an order this node owns, if any.
  std::optional<std::pair<int32_t, int64_t>> token(const std::string& order_id);

  /// Sets the generation directly (tests simulate a node that missed a
  /// rebalance this way).
  void assume(int32_t partition, int64_t generation);

private:
  std::string url_;
  std::string node_;
  std::function<int32_t(const std::string&)> partition_of_;
  std::mutex mtx_;
  std::map<int32_t, int64_t> generations_;
};

} // namespace troupe
