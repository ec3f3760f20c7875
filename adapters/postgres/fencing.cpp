// Partition claims and fencing tokens.
#include "fencing.hpp"

#include <pqxx/pqxx>

#include "log.hpp"

namespace troupe {

partition_fence::partition_fence(
  std::string pg_url, std::string node_id,
  std::function<int32_t(const std::string&)> partition_of)
  : url_(std::move(pg_url)),
    node_(std::move(node_id)),
    partition_of_(std::move(partition_of)) {
}

void partition_fence::claim(const std::vector<int32_t>& parts) {
  if (parts.empty())
    return;
  pqxx::connection conn{url_};
  pqxx::work tx{conn};
  std::map<int32_t, int64_t> claimed;
  for (auto p : parts) {
    auto r = tx.exec("INSERT INTO partition_owners (kafka_partition, owner, "
                     "generation) VALUES (" + std::to_string(p) + ", "
                     + tx.quote(node_) + ", 1) ON CONFLICT (kafka_partition) "
                     "DO UPDATE SET owner = EXCLUDED.owner, generation = "
                     "partition_owners.generation + 1, claimed_at = "
                     "clock_timestamp() RETURNING generation");
    claimed[p] = r[0][0].as<int64_t>();
  }
  tx.commit();
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [p, g] : claimed)
    generations_[p] = g;
  log::info("fencing", "claimed {} partition(s)", claimed.size());
}

void partition_fence::release(const std::vector<int32_t>& parts) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto p : parts)
    generations_.erase(p);
}

void partition_fence::assume(int32_t partition, int64_t generation) {
  std::lock_guard<std::mutex> guard{mtx_};
  generations_[partition] = generation;
}

std::optional<std::pair<int32_t, int64_t>>
partition_fence::token(const std::string& order_id) {
  auto p = partition_of_(order_id);
  if (p < 0)
    return std::nullopt;
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = generations_.find(p);
  if (i == generations_.end())
    return std::make_pair(p, int64_t{0}); // not ours: generation 0 never matches
  return std::make_pair(p, i->second);
}

} // namespace troupe
