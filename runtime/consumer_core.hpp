// What a consumer does between fetching and committing, with no Kafka client
// in it: shared by the librdkafka consumer (adapters/kafka/consumer.cpp) and
// the simulated one, so both run the same logic.
//
//   fetched message ──accept──▶ delivery_job (to the delivery actor)
//   delivery_outcome ──complete──▶ offset tracker ──take_commits──▶ commit
//   revoke ──revoke──▶ (wait for the partitions' work, up to a deadline)
//          ──revoke_due──▶ finish_revoke: forget the partitions' work
//
// `accept` decodes through the decoder it was given (the envelope codec in
// production). Backpressure: `pause_wanted` says whether fetching should
// stop (the store is down, or `max_in_flight` messages are in flight) and
// resume only once in-flight work fell to half of it. Time is passed in, so
// the simulator's clock drives revocation deadlines.
//
// Owned by one consumer actor; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/expected.hpp>
#include <caf/message.hpp>

#include "runtime/delivery.hpp"
#include "runtime/offset_tracker.hpp"

namespace troupe {

/// A partition of a topic.
struct topic_partition {
  std::string topic;
  int32_t partition = 0;
  friend bool operator==(const topic_partition& x, const topic_partition& y) {
    return x.partition == y.partition && x.topic == y.topic;
  }
};

/// One fetched message, as the client library hands it over.
struct fetched_message {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string payload;
  std::string traceparent; ///< its `traceparent` header, empty when absent
};

class consumer_core {
public:
  using clock = std::chrono::steady_clock;
  /// Decodes a message of `topic`; fills `correlation_id` when it can.
  using decoder = std::function<caf::expected<caf::message>(
    const std::string& topic, const std::string& key,
    const std::string& payload, std::string& correlation_id)>;

  consumer_core(std::vector<std::string> topics, decoder decode,
                size_t max_in_flight);

  /// A job for the delivery actor, or none when the message's partition is
  /// being revoked (fetched before the pause took effect: the next owner
  /// reads it). A message that does not decode becomes a job with
  /// `malformed` set (delivery dead-letters it). A message with a trace
  /// context gets its step's context (`tracing::continue_from`), in the job
  /// and in the decoded event.
  std::optional<delivery_job> accept(fetched_message m);

  /// The delivery of job `id` ended. A handed-off message stays
  /// uncommitted: the partition's new owner reads it again.
  void complete(uint64_t id, delivery_outcome x);

  /// The offsets to commit now (the next offset to read), by partition.
  std::vector<std::pair<topic_partition, int64_t>> take_commits();

  /// The next offset to read of a partition, if anything completed there.
  std::optional<int64_t> committable(const topic_partition& tp) const;

  size_t in_flight() const;

  /// Whether `max_in_flight` messages are in flight (fetch no more).
  bool full() const {
    return in_flight() >= max_in_flight_;
  }

  /// Whether fetching should be paused now; `paused` is the current state.
  bool pause_wanted(bool outage, bool paused) const;

  /// Partitions of the first subscribed topic among `parts` (ownership).
  std::vector<int32_t>
  first_topic_partitions(const std::vector<topic_partition>& parts) const;

  /// The group revoked `parts`: stop accepting their messages and let their
  /// work in flight finish, until `deadline`.
  void revoke(std::vector<topic_partition> parts, clock::time_point deadline);

  /// The parts of a pending revocation once its work is done or its time is
  /// up (then it is no longer pending); `late` tells which.
  std::optional<std::vector<topic_partition>> revoke_due(clock::time_point now,
                                                         bool& late);

  /// Whether `tp` belongs to a pending revocation.
  bool revoking(const topic_partition& tp) const;

  /// Forgets the work of `parts` (after their offsets were committed).
  void forget(const std::vector<topic_partition>& parts);

  const std::vector<std::string>& topics() const {
    return topics_;
  }

private:
  struct inflight_msg {
    topic_partition tp;
    int64_t offset = 0;
  };
  struct pending_revoke {
    std::vector<topic_partition> parts;
    clock::time_point deadline;
  };

  std::vector<std::string> topics_;
  decoder decode_;
  size_t max_in_flight_;
  std::map<std::string, offset_tracker> trackers_; ///< by topic
  std::unordered_map<uint64_t, inflight_msg> inflight_;
  uint64_t next_id_ = 0;
  std::optional<pending_revoke> revoking_;
};

} // namespace troupe
