// Partition claims and fencing tokens.
#include "adapters/postgres/fencing.hpp"
#include "adapters/postgres/connection.hpp"

#include <pqxx/pqxx>

#include "observability/log.hpp"

namespace troupe {

partition_fence::partition_fence(
  std::string pg_url, std::string node_id,
  std::function<int32_t(const std::string&)> partition_of)
  : url_(std::move(pg_url)),
    node_(std::move(node_id)),
    partition_of_(std::move(partition_of)) {
}

std::map<int32_t, int64_t>
partition_fence::claim_on(pqxx::connection& conn,
                          const std::vector<int32_t>& parts) {
  std::map<int32_t, int64_t> claimed;
  if (parts.empty())
    return claimed;
  pqxx::work tx{conn};
  for (auto p : parts) {
    auto r = tx.exec("INSERT INTO partition_owners (kafka_partition, owner, "
                     "generation) VALUES ("
                     + std::to_string(p) + ", " + tx.quote(node_)
                     + ", 1) ON CONFLICT (kafka_partition) "
                       "DO UPDATE SET owner = EXCLUDED.owner, generation = "
                       "partition_owners.generation + 1, claimed_at = "
                       "clock_timestamp() RETURNING generation");
    claimed[p] = r[0][0].as<int64_t>();
  }
  tx.commit();
  return claimed;
}

void partition_fence::claim(const std::vector<int32_t>& parts) {
  if (parts.empty())
    return;
  auto conn = pg_connect(url_, "fencing");
  auto claimed = claim_on(*conn, parts);
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [p, g] : claimed) {
    generations_[p] = g;
    unclaimed_.erase(p);
  }
  log::info("fencing", "claimed {} partition(s)", claimed.size());
}

void partition_fence::assign(const std::vector<int32_t>& parts) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto id = ++assignments_;
  for (auto p : parts) {
    generations_.erase(p);
    unclaimed_[p] = id;
  }
}

std::map<int32_t, uint64_t> partition_fence::unclaimed() {
  std::lock_guard<std::mutex> guard{mtx_};
  return unclaimed_;
}

std::vector<int32_t>
partition_fence::claimed(const std::map<int32_t, uint64_t>& attempted,
                         const std::map<int32_t, int64_t>& generations) {
  std::vector<int32_t> result;
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [p, id] : attempted) {
    auto i = unclaimed_.find(p);
    auto g = generations.find(p);
    // Revoked meanwhile, or assigned again (claim again for that one).
    if (i == unclaimed_.end() || i->second != id || g == generations.end())
      continue;
    unclaimed_.erase(i);
    generations_[p] = g->second;
    result.push_back(p);
  }
  if (unclaimed_.empty())
    last_failure_.clear();
  return result;
}

void partition_fence::claim_failed(const std::string& why) {
  std::lock_guard<std::mutex> guard{mtx_};
  last_failure_ = why;
}

std::string partition_fence::not_ready_reason() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (unclaimed_.empty())
    return "";
  std::string why = "fencing: partition(s)";
  for (auto& [p, id] : unclaimed_)
    why += " " + std::to_string(p);
  why += " assigned but not claimed yet";
  if (!last_failure_.empty()) {
    auto first_line = last_failure_.substr(0, last_failure_.find('\n'));
    why += " (" + first_line + ")";
  }
  return why;
}

void partition_fence::release(const std::vector<int32_t>& parts) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto p : parts) {
    generations_.erase(p);
    unclaimed_.erase(p);
  }
}

void partition_fence::assume(int32_t partition, int64_t generation) {
  std::lock_guard<std::mutex> guard{mtx_};
  generations_[partition] = generation;
}

std::optional<std::pair<int32_t, int64_t>>
partition_fence::token(const std::string& order_id) {
  auto p = partition_of_(order_id);
  std::lock_guard<std::mutex> guard{mtx_};
  if (p < 0) {
    if (generations_.empty() && unclaimed_.empty())
      return std::nullopt; // not an owner of anything: unfenced (tests)
    throw partition_unclaimed("fencing: the partition count is not known yet");
  }
  if (unclaimed_.count(p) > 0)
    throw partition_unclaimed("fencing: partition " + std::to_string(p)
                              + " is not claimed yet");
  auto i = generations_.find(p);
  if (i == generations_.end())
    return std::make_pair(p,
                          int64_t{0}); // not ours: generation 0 never matches
  return std::make_pair(p, i->second);
}

// -- claimer ------------------------------------------------------------------

partition_claimer::partition_claimer(
  std::shared_ptr<partition_fence> fence, std::string url, settings cfg,
  std::function<void(const std::vector<int32_t>&)> on_claimed)
  : fence_(std::move(fence)),
    url_(std::move(url)),
    cfg_(cfg),
    on_claimed_(std::move(on_claimed)) {
  thread_ = std::thread{[this] { run(); }};
}

partition_claimer::~partition_claimer() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void partition_claimer::wake() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    woken_ = true;
  }
  cv_.notify_all();
}

void partition_claimer::run() {
  auto delay = cfg_.base;
  uint64_t streak = 0;
  bool retry = false; // the last attempt failed: try again after `delay`
  for (;;) {
    {
      std::unique_lock<std::mutex> guard{mtx_};
      auto pred = [this] { return stop_ || woken_; };
      if (retry)
        cv_.wait_for(guard, delay, pred);
      else
        cv_.wait(guard, pred);
      if (stop_)
        return;
      woken_ = false;
    }
    auto todo = fence_->unclaimed();
    if (todo.empty()) {
      retry = false;
      continue;
    }
    std::vector<int32_t> parts;
    for (auto& [p, id] : todo)
      parts.push_back(p);
    try {
      if (!conn_)
        conn_ = std::make_unique<pg_connection>(url_, "fencing");
      auto generations = fence_->claim_on(conn_->open(), parts);
      auto done = fence_->claimed(todo, generations);
      if (streak > 0)
        log::info("fencing",
                  "claimed {} partition(s) after {} failed "
                  "attempt(s)",
                  done.size(), streak);
      else
        log::info("fencing", "claimed {} partition(s)", done.size());
      retry = false;
      streak = 0;
      delay = cfg_.base;
      if (!done.empty() && on_claimed_)
        on_claimed_(done);
      // Assigned again while the claim ran: claim those too.
      if (!fence_->unclaimed().empty())
        wake();
    } catch (const std::exception& e) {
      if (conn_)
        conn_->reset();
      ++failures_;
      fence_->claim_failed(e.what());
      // Loud at first, then every 30th attempt: an outage is not a log storm.
      if (streak % 30 == 0)
        log::warn("fencing",
                  "claiming partition(s) failed (attempt {}), "
                  "retrying every {} ms at most: {}",
                  streak + 1, cfg_.cap.count(), e.what());
      ++streak;
      retry = true;
      delay = streak == 1 ? cfg_.base : std::min(delay * 2, cfg_.cap);
    }
  }
}

} // namespace troupe
