// The store contract (tests/contract/stories.hpp) against the in-memory
// store: several nodes' stores over one shared database.
#define CAF_SUITE contract_memory
#include "sim/memory_store.hpp"

#include "adapters/memory/memory_reads.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include <caf/send.hpp>

#include "tests/contract/target.hpp"

namespace troupe::test {

namespace {

class memory_target : public store_target {
public:
  ~memory_target() override {
    for (auto& [node, s] : stores_)
      caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  }

  node_store_actor store(const std::string& node) override {
    auto i = stores_.find(node);
    if (i != stores_.end())
      return i->second;
    sim::memory_store_settings cfg;
    cfg.node_id = node;
    cfg.partition_of = [](const std::string&) { return 0; };
    return stores_[node] = sim::spawn_memory_store(sys, db_, cfg);
  }

  void claim(const std::string& node) override {
    db_->claim(node, {0});
  }

  int64_t stock(const std::string& sku) override {
    std::lock_guard<std::mutex> guard{db_->mtx};
    auto i = db_->stock.find(sku);
    return i == db_->stock.end() ? -1 : i->second;
  }

  std::vector<std::string> outbox_topics(const std::string& key) override {
    std::lock_guard<std::mutex> guard{db_->mtx};
    std::vector<std::string> result;
    for (auto& row : db_->outbox)
      if (row.key == key)
        result.push_back(row.topic);
    return result;
  }

  std::vector<cancel_reason>
  inventory_outcomes(const std::string& order_id) override {
    std::lock_guard<std::mutex> guard{db_->mtx};
    std::vector<cancel_reason> result;
    for (auto& row : db_->outbox)
      if (auto ev = std::get_if<inventory_result>(&row.event);
          ev != nullptr && row.key == order_id)
        result.push_back(ev->reason);
    return result;
  }

  std::vector<std::string> short_skus(const std::string& order_id) override {
    std::lock_guard<std::mutex> guard{db_->mtx};
    std::vector<std::string> result;
    for (auto& row : db_->outbox)
      if (row.topic == "inventory.result" && row.key == order_id)
        result = row.short_skus;
    return result;
  }

  std::string order_status(const std::string& order_id) override {
    std::lock_guard<std::mutex> guard{db_->mtx};
    auto i = db_->orders.find(order_id);
    return i == db_->orders.end() ? "" : to_string(i->second.status);
  }

  std::vector<std::string> timeline(const std::string& order_id) override {
    std::lock_guard<std::mutex> guard{db_->mtx};
    std::vector<std::string> result;
    for (auto& row : db_->timeline)
      if (row.order_id == order_id)
        result.emplace_back(to_string(row.kind));
    return result;
  }

  int64_t dead_letters() override {
    std::lock_guard<std::mutex> guard{db_->mtx};
    return static_cast<int64_t>(db_->dead_letters.size());
  }

  std::shared_ptr<order_reads> reads() override {
    return std::make_shared<memory_reads>(db_);
  }

private:
  std::shared_ptr<sim::memory_db> db_ = std::make_shared<sim::memory_db>();
  std::map<std::string, node_store_actor> stores_;
};

} // namespace

using contract_target = memory_target;

} // namespace troupe::test

#include "tests/contract/stories.hpp"
