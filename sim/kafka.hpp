// A simulated Kafka: topics with partitions and a log per partition,
// consumer groups with range assignment and rebalances, committed offsets.
//
//   producers ──produce(topic, key)──▶ [topic/partition logs] ──fetch──▶ consumers
//                                            committed offsets per group ◀─ commit
//
// It keeps the protocol's promises that the engine relies on and no more: a
// key always lands on the same partition (the production partitioner), a
// partition's records keep their order, a consumer starts a newly assigned
// partition at its group's committed offset (so work not committed before
// a crash or a hand-off is delivered again), a commit from a member of an
// older generation is refused, and different partitions and topics make
// progress independently. Deterministic: no threads, no clock; the
// simulator and the simulated consumers call it. One instance is shared by
// every simulated node, as one cluster is.
//
// Threads: by default it is confined to one thread (the simulator and the
// unit suites run everything under CAF's test coordinator) and takes no
// lock. The in-memory event bus of troupe-node (`engine.mode = memory`)
// calls it from the consumers and the relay on a real scheduler: it turns
// `shared()` on first, and then every call holds one lock. Watchers and
// `on_commit` run under that lock: they must not block (a wake sends a
// message).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "runtime/consumer_core.hpp"

namespace troupe::sim {

class kafka {
public:
  struct record {
    int64_t offset = 0;
    std::string key;
    std::string value;
  };

  /// Creates `topic` with `partitions` partitions (again: no change).
  void create_topic(const std::string& topic, int32_t partitions);

  /// Partitions of `topic`, 0 when it does not exist.
  int32_t partitions(const std::string& topic) const;

  /// Appends to the partition of `key`; returns where it landed (the
  /// offset through `offset`). A topic that does not exist is created
  /// with `default_partitions`. While the broker is down nothing is
  /// appended and the partition returned is -1.
  topic_partition produce(const std::string& topic, const std::string& key,
                          std::string value, int64_t* offset = nullptr);

  /// Up to `max` records of `tp` from `offset` on; none while the broker
  /// is down.
  std::vector<record> fetch(const topic_partition& tp, int64_t offset,
                            size_t max) const;

  /// The offset the next record of `tp` gets (the high watermark).
  int64_t end_offset(const topic_partition& tp) const;

  /// Adds `member` to `group` for `topics` and rebalances the group;
  /// returns the new generation.
  uint64_t join(const std::string& group, const std::string& member,
                const std::vector<std::string>& topics);

  /// Removes `member` (it left, or its session timed out) and rebalances.
  uint64_t leave(const std::string& group, const std::string& member);

  uint64_t generation(const std::string& group) const;

  /// The generation `member` believes its group is in: the group's, unless
  /// the member is cut off (`isolate`), then the last one it saw.
  uint64_t generation(const std::string& group,
                      const std::string& member) const;

  /// Cuts `member` off from `group`'s coordinator: the group goes on
  /// without it (its session timed out, its partitions move), but the
  /// member is not told and still sees its old generation and assignment
  /// (a stale owner: a long pause, a network partition). Its commits are
  /// refused; nothing stops it from fetching.
  void isolate(const std::string& group, const std::string& member);

  /// Ends the isolation: the member learns that its generation is gone
  /// and joins again with `topics`.
  void reconnect(const std::string& group, const std::string& member,
                 const std::vector<std::string>& topics);

  /// The broker goes down (produce, fetch and commit fail) or comes back
  /// (every consumer is woken).
  void set_down(bool down);

  bool down() const {
    auto lock = guard();
    return down_;
  }

  std::vector<std::string> members(const std::string& group) const;

  /// The partitions of `member` in the group's current generation (in its
  /// old one while it is isolated).
  std::vector<topic_partition> assignment(const std::string& group,
                                          const std::string& member) const;

  /// Commits `next` (the next offset to read) for `tp`. Refused (false)
  /// unless `member` is in the group's generation `gen` and owns `tp`.
  bool commit(const std::string& group, const std::string& member, uint64_t gen,
              const topic_partition& tp, int64_t next);

  /// Calls `wake` whenever `member` of `group` may have something new to
  /// do: a record landed on one of its partitions, or the group has a new
  /// generation. A consumer then polls at once, as a fetch waiting at the
  /// broker returns when data arrives, and an idle one needs no timer.
  /// `wake` returns false once its consumer is gone (then it is dropped);
  /// a member may have several (a restarted process races its
  /// predecessor's last moments).
  void watch(const std::string& group, const std::string& member,
             std::function<bool()> wake);

  /// The group's committed offset of `tp`; 0 (earliest) when none.
  int64_t committed(const std::string& group, const topic_partition& tp) const;

  /// Topics, in name order.
  std::vector<std::string> topics() const;

  int32_t default_partitions = 3;

  /// From now on every call holds the bus's lock (several threads call it).
  /// Call before sharing the bus between threads.
  void shared() {
    shared_ = true;
  }

  /// Sees each accepted commit: `group` moved `tp` from `from` to `next`
  /// (a simulator's checks after every step).
  std::function<void(const std::string& group, const topic_partition& tp,
                     int64_t from, int64_t next)>
    on_commit;

private:
  struct group_state {
    uint64_t generation = 0;
    std::map<std::string, std::vector<std::string>> members; ///< -> topics
    std::map<std::string, std::vector<topic_partition>> assignment;
    std::map<std::pair<std::string, int32_t>, int64_t> committed;
    /// By member.
    std::map<std::string, std::vector<std::function<bool()>>> watchers;
    /// Isolated members: the generation and assignment they still see.
    std::map<std::string, std::pair<uint64_t, std::vector<topic_partition>>>
      isolated;
  };

  using guard_type = std::unique_lock<std::recursive_mutex>;

  /// The bus's lock while it is shared, else nothing (a public call may
  /// make another: the lock is recursive).
  guard_type guard() const {
    return shared_ ? guard_type{mtx_} : guard_type{};
  }

  void rebalance(group_state& g);
  static void wake(std::vector<std::function<bool()>>& watchers);

  std::map<std::string, std::vector<std::vector<record>>> logs_;
  std::map<std::string, group_state> groups_;
  bool down_ = false;
  bool shared_ = false;
  mutable std::recursive_mutex mtx_;
};

} // namespace troupe::sim
