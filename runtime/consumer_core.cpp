#include "runtime/consumer_core.hpp"

#include <algorithm>

#include "actors/commands.hpp"
#include "base/errors.hpp"
#include "base/mutants.hpp"
#include "observability/tracing.hpp"

namespace troupe {

namespace {

template <class T>
bool stamp_as(caf::message& msg, const std::string& traceparent) {
  if (!msg.match_element<T>(0))
    return false;
  msg.get_mutable_as<T>(0).traceparent = traceparent;
  return true;
}

/// Gives the decoded event the context of the step that handles it.
void stamp_trace(caf::message& msg, const std::string& traceparent) {
  if (msg.size() != 1)
    return;
  if (stamp_as<order_created>(msg, traceparent)
      || stamp_as<payment_result>(msg, traceparent)
      || stamp_as<inventory_result>(msg, traceparent)
      || stamp_as<compensation>(msg, traceparent)
      || stamp_as<status_changed>(msg, traceparent)
      || stamp_as<cancel_requested>(msg, traceparent))
    return;
  if (msg.match_element<order_requested>(0))
    msg.get_mutable_as<order_requested>(0).order.traceparent = traceparent;
}

} // namespace

consumer_core::consumer_core(std::vector<std::string> topics, decoder decode,
                             size_t max_in_flight)
  : topics_(std::move(topics)),
    decode_(std::move(decode)),
    max_in_flight_(max_in_flight) {
  // At least one message in flight, or nothing is ever fetched.
  if (max_in_flight_ == 0)
    max_in_flight_ = 1;
}

std::optional<delivery_job> consumer_core::accept(fetched_message m) {
  topic_partition tp{m.topic, m.partition};
  if (revoking(tp))
    return std::nullopt;
  delivery_job job;
  job.topic = std::move(m.topic);
  job.partition = m.partition;
  job.offset = m.offset;
  job.key = std::move(m.key);
  job.payload = std::move(m.payload);
  if (!m.traceparent.empty()) {
    job.traceparent = tracing::continue_from(m.traceparent);
    if (job.traceparent != m.traceparent)
      job.parent_span = tracing::span_id_of(m.traceparent);
  }
  auto decoded = decode_(job.topic, job.key, job.payload, job.correlation_id);
  if (decoded) {
    job.event = std::move(*decoded);
    if (!job.traceparent.empty())
      stamp_trace(job.event, job.traceparent);
  } else
    job.malformed = describe(decoded.error());
  job.id = next_id_++;
  trackers_[job.topic].start(job.partition, job.offset);
  if (TROUPE_MUTANT("commit-before-write"))
    trackers_[job.topic].complete(job.partition, job.offset);
  inflight_.emplace(job.id, inflight_msg{std::move(tp), job.offset});
  return job;
}

void consumer_core::complete(uint64_t id, delivery_outcome x) {
  auto i = inflight_.find(id);
  if (i == inflight_.end())
    return;
  if (x != delivery_outcome::handed_off
      && !TROUPE_MUTANT("commit-before-write"))
    trackers_[i->second.tp.topic].complete(i->second.tp.partition,
                                           i->second.offset);
  inflight_.erase(i);
}

std::vector<std::pair<topic_partition, int64_t>> consumer_core::take_commits() {
  std::vector<std::pair<topic_partition, int64_t>> result;
  for (auto& [topic, tracker] : trackers_)
    for (auto& [part, next] : tracker.take_commits())
      result.emplace_back(topic_partition{topic, part}, next);
  return result;
}

std::optional<int64_t>
consumer_core::committable(const topic_partition& tp) const {
  auto t = trackers_.find(tp.topic);
  if (t == trackers_.end())
    return std::nullopt;
  return t->second.committable(tp.partition);
}

size_t consumer_core::in_flight() const {
  size_t n = 0;
  for (auto& [topic, tracker] : trackers_)
    n += tracker.in_flight();
  return n;
}

bool consumer_core::pause_wanted(bool outage, bool paused) const {
  if (outage || full())
    return true;
  if (in_flight() <= max_in_flight_ / 2)
    return false;
  return paused;
}

std::vector<int32_t> consumer_core::first_topic_partitions(
  const std::vector<topic_partition>& parts) const {
  std::vector<int32_t> result;
  if (topics_.empty())
    return result;
  for (auto& tp : parts)
    if (tp.topic == topics_.front())
      result.push_back(tp.partition);
  return result;
}

void consumer_core::revoke(std::vector<topic_partition> parts,
                           clock::time_point deadline) {
  revoking_ = pending_revoke{std::move(parts), deadline};
}

std::optional<std::vector<topic_partition>>
consumer_core::revoke_due(clock::time_point now, bool& late) {
  late = false;
  if (!revoking_)
    return std::nullopt;
  bool busy = std::any_of(inflight_.begin(), inflight_.end(),
                          [this](auto& kv) { return revoking(kv.second.tp); });
  if (busy && now < revoking_->deadline)
    return std::nullopt;
  late = busy;
  auto parts = std::move(revoking_->parts);
  revoking_.reset();
  return parts;
}

bool consumer_core::revoking(const topic_partition& tp) const {
  if (!revoking_)
    return false;
  auto& ps = revoking_->parts;
  return std::find(ps.begin(), ps.end(), tp) != ps.end();
}

void consumer_core::forget(const std::vector<topic_partition>& parts) {
  for (auto& tp : parts)
    if (auto t = trackers_.find(tp.topic); t != trackers_.end())
      t->second.forget(tp.partition);
  for (auto i = inflight_.begin(); i != inflight_.end();) {
    auto gone = std::find(parts.begin(), parts.end(), i->second.tp)
                != parts.end();
    i = gone ? inflight_.erase(i) : std::next(i);
  }
}

} // namespace troupe
