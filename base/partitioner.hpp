// Which partition a key lands on: the Java client's murmur2 partitioner,
// which the producer is configured to use ("murmur2_random"), so every node
// can tell which orders belong to the partitions it owns.
#pragma once

#include <cstdint>
#include <string>

namespace troupe {

uint32_t murmur2(const std::string& key);

/// Partition of `key` among `partitions`.
inline int32_t partition_for(const std::string& key, int32_t partitions) {
  return static_cast<int32_t>((murmur2(key) & 0x7fffffff)
                              % static_cast<uint32_t>(partitions));
}

} // namespace troupe
