#include "sim/kafka.hpp"

#include <algorithm>

#include "base/partitioner.hpp"

namespace troupe::sim {

void kafka::create_topic(const std::string& topic, int32_t partitions) {
  auto lock = guard();
  auto& parts = logs_[topic];
  if (parts.empty())
    parts.resize(static_cast<size_t>(std::max(1, partitions)));
}

int32_t kafka::partitions(const std::string& topic) const {
  auto lock = guard();
  auto i = logs_.find(topic);
  return i == logs_.end() ? 0 : static_cast<int32_t>(i->second.size());
}

topic_partition kafka::produce(const std::string& topic, const std::string& key,
                               std::string value, int64_t* offset) {
  auto lock = guard();
  if (down_)
    return topic_partition{topic, -1};
  if (partitions(topic) == 0)
    create_topic(topic, default_partitions);
  auto& parts = logs_[topic];
  auto p = partition_for(key, static_cast<int32_t>(parts.size()));
  auto& log = parts[static_cast<size_t>(p)];
  auto at = static_cast<int64_t>(log.size());
  log.push_back(record{at, key, std::move(value)});
  if (offset)
    *offset = at;
  topic_partition tp{topic, p};
  // Whoever fetches the partition hears of it, a stale owner too.
  auto has = [&tp](const std::vector<topic_partition>& owned) {
    return std::find(owned.begin(), owned.end(), tp) != owned.end();
  };
  for (auto& kv : groups_) {
    auto& g = kv.second;
    for (auto& [member, ws] : g.watchers) {
      auto stale = g.isolated.find(member);
      if (stale != g.isolated.end() ? has(stale->second.second)
                                    : has(g.assignment[member]))
        wake(ws);
    }
  }
  return tp;
}

std::vector<kafka::record> kafka::fetch(const topic_partition& tp,
                                        int64_t offset, size_t max) const {
  auto lock = guard();
  std::vector<record> result;
  auto i = logs_.find(tp.topic);
  if (down_ || i == logs_.end() || tp.partition < 0
      || tp.partition >= static_cast<int32_t>(i->second.size()))
    return result;
  auto& log = i->second[static_cast<size_t>(tp.partition)];
  for (auto at = std::max<int64_t>(0, offset);
       at < static_cast<int64_t>(log.size()) && result.size() < max; ++at)
    result.push_back(log[static_cast<size_t>(at)]);
  return result;
}

int64_t kafka::end_offset(const topic_partition& tp) const {
  auto lock = guard();
  auto i = logs_.find(tp.topic);
  if (i == logs_.end() || tp.partition < 0
      || tp.partition >= static_cast<int32_t>(i->second.size()))
    return 0;
  return static_cast<int64_t>(
    i->second[static_cast<size_t>(tp.partition)].size());
}

uint64_t kafka::join(const std::string& group, const std::string& member,
                     const std::vector<std::string>& topics) {
  auto lock = guard();
  auto& g = groups_[group];
  g.isolated.erase(member); // a new process: it knows it has to join
  g.members[member] = topics;
  for (auto& t : topics)
    if (partitions(t) == 0)
      create_topic(t, default_partitions);
  rebalance(g);
  return g.generation;
}

uint64_t kafka::leave(const std::string& group, const std::string& member) {
  auto lock = guard();
  auto& g = groups_[group];
  if (g.members.erase(member) > 0)
    rebalance(g);
  return g.generation;
}

uint64_t kafka::generation(const std::string& group) const {
  auto lock = guard();
  auto i = groups_.find(group);
  return i == groups_.end() ? 0 : i->second.generation;
}

uint64_t kafka::generation(const std::string& group,
                           const std::string& member) const {
  auto lock = guard();
  auto i = groups_.find(group);
  if (i == groups_.end())
    return 0;
  auto j = i->second.isolated.find(member);
  return j == i->second.isolated.end() ? i->second.generation : j->second.first;
}

void kafka::isolate(const std::string& group, const std::string& member) {
  auto lock = guard();
  auto& g = groups_[group];
  if (g.members.count(member) == 0 || g.isolated.count(member) > 0)
    return;
  g.isolated[member] = {g.generation, g.assignment[member]};
  auto ws = std::move(g.watchers[member]);
  g.watchers.erase(member); // it hears nothing from the coordinator
  g.members.erase(member);
  rebalance(g);
  g.watchers[member] = std::move(ws);
}

void kafka::reconnect(const std::string& group, const std::string& member,
                      const std::vector<std::string>& topics) {
  auto lock = guard();
  auto& g = groups_[group];
  if (g.isolated.erase(member) == 0)
    return;
  join(group, member, topics);
}

void kafka::set_down(bool down) {
  auto lock = guard();
  down_ = down;
  if (down_)
    return;
  for (auto& kv : groups_)
    for (auto& [member, ws] : kv.second.watchers)
      wake(ws);
}

std::vector<std::string> kafka::members(const std::string& group) const {
  auto lock = guard();
  std::vector<std::string> result;
  if (auto i = groups_.find(group); i != groups_.end())
    for (auto& kv : i->second.members)
      result.push_back(kv.first);
  return result;
}

std::vector<topic_partition>
kafka::assignment(const std::string& group, const std::string& member) const {
  auto lock = guard();
  auto i = groups_.find(group);
  if (i == groups_.end())
    return {};
  if (auto k = i->second.isolated.find(member); k != i->second.isolated.end())
    return k->second.second;
  auto j = i->second.assignment.find(member);
  return j == i->second.assignment.end() ? std::vector<topic_partition>{}
                                         : j->second;
}

bool kafka::commit(const std::string& group, const std::string& member,
                   uint64_t gen, const topic_partition& tp, int64_t next) {
  auto lock = guard();
  auto i = groups_.find(group);
  if (down_ || i == groups_.end() || i->second.generation != gen)
    return false;
  auto& owned = i->second.assignment[member];
  if (std::find(owned.begin(), owned.end(), tp) == owned.end())
    return false;
  auto& at = i->second.committed[{tp.topic, tp.partition}];
  if (on_commit)
    on_commit(group, tp, at, next);
  at = next;
  return true;
}

void kafka::watch(const std::string& group, const std::string& member,
                  std::function<bool()> wake) {
  auto lock = guard();
  groups_[group].watchers[member].push_back(std::move(wake));
}

void kafka::wake(std::vector<std::function<bool()>>& watchers) {
  watchers.erase(std::remove_if(watchers.begin(), watchers.end(),
                                [](auto& w) { return !w(); }),
                 watchers.end());
}

int64_t kafka::committed(const std::string& group,
                         const topic_partition& tp) const {
  auto lock = guard();
  auto i = groups_.find(group);
  if (i == groups_.end())
    return 0;
  auto j = i->second.committed.find({tp.topic, tp.partition});
  return j == i->second.committed.end() ? 0 : j->second;
}

std::vector<std::string> kafka::topics() const {
  auto lock = guard();
  std::vector<std::string> result;
  for (auto& kv : logs_)
    result.push_back(kv.first);
  return result;
}

void kafka::rebalance(group_state& g) {
  ++g.generation;
  g.assignment.clear();
  // The range assignor: per topic, members in name order take contiguous
  // ranges of partitions, the first ones one more when it does not divide.
  std::set<std::string> topics;
  for (auto& [member, ts] : g.members)
    topics.insert(ts.begin(), ts.end());
  for (auto& topic : topics) {
    std::vector<std::string> takers;
    for (auto& [member, ts] : g.members)
      if (std::find(ts.begin(), ts.end(), topic) != ts.end())
        takers.push_back(member);
    auto n = partitions(topic);
    auto m = static_cast<int32_t>(takers.size());
    int32_t next = 0;
    for (int32_t k = 0; k < m; ++k) {
      auto count = n / m + (k < n % m ? 1 : 0);
      for (int32_t c = 0; c < count; ++c)
        g.assignment[takers[static_cast<size_t>(k)]].push_back(
          topic_partition{topic, next++});
    }
  }
  for (auto& [member, ws] : g.watchers)
    wake(ws);
}

} // namespace troupe::sim
