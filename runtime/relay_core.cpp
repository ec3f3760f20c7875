#include "runtime/relay_core.hpp"

#include <algorithm>

namespace troupe {

std::vector<int64_t> settled_batch::published() const {
  std::vector<int64_t> ids;
  for (auto& r : rows)
    if (r.outcome == publish_outcome::published)
      ids.push_back(r.row.id);
  return ids;
}

relay_core::relay_core(settings cfg) : cfg_(cfg) {
  // At least one row and one batch in flight, or nothing is ever produced.
  cfg_.batch = std::max<size_t>(cfg_.batch, 1);
  cfg_.max_batches = std::max<size_t>(cfg_.max_batches, 1);
  cfg_.max_rows_in_flight = std::max<size_t>(cfg_.max_rows_in_flight, 1);
  cfg_.max_attempts = std::max(cfg_.max_attempts, 1);
}

std::string relay_core::key_of(const relay_row& r) {
  std::string k = r.topic;
  k += '\0';
  k += r.key;
  return k;
}

void relay_core::release_key(const std::string& k) {
  open_keys_.erase(k);
}

size_t relay_core::claim_limit() const {
  if (batches_.size() >= cfg_.max_batches
      || rows_in_flight_ >= cfg_.max_rows_in_flight)
    return 0;
  return std::min(cfg_.batch, cfg_.max_rows_in_flight - rows_in_flight_);
}

bool relay_core::claim_due(clock::time_point now) const {
  return batches_.empty() || last_full_
         || now >= last_start_ + cfg_.claim_spacing;
}

std::vector<int64_t> relay_core::excluded(clock::time_point now) {
  for (auto i = retry_.begin(); i != retry_.end();) {
    if (i->second.at <= now) {
      auto k = open_keys_.find(i->second.key);
      if (k != open_keys_.end() && k->second == i->first)
        open_keys_.erase(k);
      i = retry_.erase(i);
    } else {
      ++i;
    }
  }
  for (auto i = deferred_.begin(); i != deferred_.end();)
    i = open_keys_.count(i->second) == 0 ? deferred_.erase(i) : std::next(i);
  std::vector<int64_t> ids;
  ids.reserve(retry_.size() + deferred_.size());
  for (auto& [id, w] : retry_)
    ids.push_back(id);
  for (auto& [id, k] : deferred_)
    ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

started_batch relay_core::start(std::vector<relay_row> claimed,
                                clock::time_point now) {
  started_batch out;
  out.id = next_batch_++;
  last_full_ = claimed.size() >= claim_limit();
  last_start_ = now;
  open_batch b;
  b.deadline = now + cfg_.delivery_deadline;
  for (auto& row : claimed) {
    if (by_id_.count(row.id) > 0)
      continue; // in flight already (claimed twice): its report settles it
    auto k = key_of(row);
    auto open = open_keys_.find(k);
    if (open != open_keys_.end() && open->second != row.id) {
      deferred_[row.id] = std::move(k);
      out.deferred.push_back(row.id);
      continue;
    }
    retry_.erase(row.id); // claimed before its wait was over: try it now
    deferred_.erase(row.id);
    open_keys_[k] = row.id;
    by_id_[row.id] = {out.id, b.rows.size()};
    relay_report r;
    r.row = row;
    b.rows.push_back(std::move(r));
    out.produce.push_back(std::move(row));
  }
  b.pending = b.rows.size();
  rows_in_flight_ += b.rows.size();
  batches_.emplace(out.id, std::move(b));
  return out;
}

void relay_core::delivered(int64_t id, publish_outcome x, int error) {
  auto i = by_id_.find(id);
  if (i == by_id_.end() || x == publish_outcome::pending)
    return;
  auto b = batches_.find(i->second.first);
  if (b != batches_.end()) {
    auto& r = b->second.rows[i->second.second];
    if (r.outcome == publish_outcome::pending) {
      r.outcome = x;
      r.error = error;
      --b->second.pending;
    }
  }
  by_id_.erase(i);
}

std::optional<settled_batch> relay_core::take_settled(clock::time_point now) {
  for (auto i = batches_.begin(); i != batches_.end(); ++i) {
    if (i->second.pending > 0 && now < i->second.deadline)
      continue;
    auto out = settle(i->first, i->second);
    batches_.erase(i);
    // Settled rows no longer count; spent ones may wait for their retry.
    auto& rows = out.rows;
    for (auto& r : rows) {
      auto k = key_of(r.row);
      if (r.outcome == publish_outcome::published || !r.spent || r.set_aside) {
        auto open = open_keys_.find(k);
        if (open != open_keys_.end() && open->second == r.row.id)
          open_keys_.erase(open);
        continue;
      }
      auto delay = cfg_.retry_base
                   * (int64_t{1} << std::min(r.row.attempts + 1, 6));
      retry_[r.row.id] = {now + std::min(cfg_.retry_cap, delay), std::move(k)};
    }
    return out;
  }
  return std::nullopt;
}

settled_batch relay_core::settle(uint64_t id, open_batch& b) {
  settled_batch out;
  out.id = id;
  size_t published = 0;
  bool refused = false;
  for (auto& r : b.rows) {
    if (r.outcome == publish_outcome::pending) {
      r.outcome = publish_outcome::failed;
      r.timed_out = true;
      by_id_.erase(r.row.id);
    }
    published += r.outcome == publish_outcome::published;
    refused |= r.outcome == publish_outcome::refused;
  }
  rows_in_flight_ -= b.rows.size();
  out.outage = !b.rows.empty() && published == 0 && !refused;
  if (!out.outage) {
    // Each failed row spends one attempt. A row Kafka refuses for good is
    // set aside at its second attempt already; one that keeps failing
    // while others go through, at the end of its budget.
    for (auto& r : b.rows) {
      if (r.outcome == publish_outcome::published)
        continue;
      auto tries = r.row.attempts + 1;
      r.spent = true;
      r.set_aside = tries >= cfg_.max_attempts
                    || (r.outcome == publish_outcome::refused
                        && tries >= std::min(2, cfg_.max_attempts));
    }
  }
  out.rows = std::move(b.rows);
  return out;
}

} // namespace troupe
