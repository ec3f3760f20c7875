// Contiguous-prefix offset tracking.
#include "runtime/offset_tracker.hpp"

namespace troupe {

void offset_tracker::start(int32_t partition, int64_t offset) {
  auto& p = parts_[partition];
  if (p.pending.insert(offset).second)
    ++in_flight_;
  if (p.low < 0 || offset < p.low)
    p.low = offset;
  if (offset > p.high)
    p.high = offset;
}

void offset_tracker::complete(int32_t partition, int64_t offset) {
  auto i = parts_.find(partition);
  if (i == parts_.end())
    return;
  auto& p = i->second;
  if (p.pending.erase(offset) == 0)
    return;
  --in_flight_;
  advance(p);
}

void offset_tracker::advance(partition_state& p) {
  // Offsets of a partition start in increasing order, so everything below
  // the lowest pending offset is done; with nothing pending, everything up to
  // the highest started one is.
  int64_t limit = p.pending.empty() ? p.high + 1 : *p.pending.begin();
  if (limit > p.low && (!p.next || *p.next < limit))
    p.next = limit;
}

std::vector<std::pair<int32_t, int64_t>> offset_tracker::take_commits() {
  std::vector<std::pair<int32_t, int64_t>> result;
  for (auto& [part, p] : parts_) {
    if (p.next && (!p.committed || *p.committed < *p.next)) {
      result.emplace_back(part, *p.next);
      p.committed = p.next;
    }
  }
  return result;
}

std::optional<int64_t> offset_tracker::committable(int32_t partition) const {
  auto i = parts_.find(partition);
  if (i == parts_.end())
    return std::nullopt;
  return i->second.next;
}

size_t offset_tracker::in_flight() const {
  return in_flight_;
}

void offset_tracker::forget(int32_t partition) {
  auto i = parts_.find(partition);
  if (i == parts_.end())
    return;
  in_flight_ -= i->second.pending.size();
  parts_.erase(i);
}

} // namespace troupe
