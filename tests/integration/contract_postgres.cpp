// The store contract (tests/contract/stories.hpp) against the PostgreSQL
// store: a fresh database per story, a store and a fence per node.
#define CAF_SUITE contract_postgres
#include "adapters/postgres/pg_store.hpp"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/send.hpp>
#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "adapters/postgres/fencing.hpp"
#include "adapters/postgres/migrations.hpp"
#include "adapters/postgres/queries.hpp"
#include "envelope/codec.hpp"
#include "tests/contract/target.hpp"
#include "tests/integration/environment.hpp"

namespace troupe::test {

namespace {

class postgres_target : public store_target {
public:
  postgres_target() : url_(fresh_database("it_contract")) {
    apply_migrations(url_);
  }

  ~postgres_target() override {
    for (auto& [node, n] : nodes_)
      caf::anon_send_exit(n.store, caf::exit_reason::user_shutdown);
  }

  node_store_actor store(const std::string& node) override {
    return of(node).store;
  }

  void claim(const std::string& node) override {
    of(node).fence->claim({0});
  }

  int64_t stock(const std::string& sku) override {
    auto r = rows("SELECT available FROM stock WHERE sku = $1", sku);
    return r.empty() ? -1 : std::stoll(r.front());
  }

  std::vector<std::string> outbox_topics(const std::string& key) override {
    return rows("SELECT topic FROM outbox WHERE key = $1 ORDER BY id", key);
  }

  std::vector<cancel_reason>
  inventory_outcomes(const std::string& order_id) override {
    std::vector<cancel_reason> result;
    for (auto& payload :
         rows("SELECT payload FROM outbox WHERE key = $1 AND topic = "
              "'inventory.result' ORDER BY id",
              order_id)) {
      std::string corr;
      auto msg = codec::decode("inventory.result", order_id, payload, corr);
      if (!msg || !msg->match_elements<inventory_result>())
        CAF_FAIL("inventory.result does not decode: " << payload);
      result.push_back(msg->get_as<inventory_result>(0).reason);
    }
    return result;
  }

  std::vector<std::string> short_skus(const std::string& order_id) override {
    std::vector<std::string> result;
    for (auto& payload :
         rows("SELECT payload::jsonb->'payload'->>'short_skus' FROM outbox "
              "WHERE key = $1 AND topic = 'inventory.result' ORDER BY id",
              order_id))
      result = nlohmann::json::parse(payload).get<std::vector<std::string>>();
    return result;
  }

  std::string order_status(const std::string& order_id) override {
    auto r = rows("SELECT status FROM orders WHERE id = $1::uuid", order_id);
    return r.empty() ? "" : r.front();
  }

  std::vector<std::string> timeline(const std::string& order_id) override {
    return rows("SELECT kind FROM order_timeline WHERE order_id = $1::uuid "
                "ORDER BY id",
                order_id);
  }

  int64_t dead_letters() override {
    return std::stoll(
      query_column(url_, "SELECT count(*) FROM dead_letters").front());
  }

  std::shared_ptr<order_reads> reads() override {
    return std::make_shared<order_queries>(url_, 2);
  }

private:
  struct node {
    std::shared_ptr<partition_fence> fence;
    node_store_actor store;
  };

  node& of(const std::string& name) {
    auto i = nodes_.find(name);
    if (i != nodes_.end())
      return i->second;
    node n;
    n.fence = std::make_shared<partition_fence>(
      url_, name, [](const std::string&) { return 0; });
    pg_settings cfg;
    cfg.url = url_;
    cfg.pool_size = 2;
    cfg.node_id = name;
    cfg.fence = n.fence;
    n.store = spawn_pg_store(sys, cfg);
    return nodes_[name] = std::move(n);
  }

  /// First column of each row of `sql` with one text parameter.
  std::vector<std::string> rows(const std::string& sql,
                                const std::string& arg) {
    pqxx::connection conn{url_};
    pqxx::work tx{conn};
    std::vector<std::string> result;
    for (const auto& row : tx.exec_params(sql, arg))
      result.push_back(row[0].is_null() ? "" : row[0].as<std::string>());
    tx.commit();
    return result;
  }

  std::string url_;
  std::map<std::string, node> nodes_;
};

} // namespace

using contract_target = postgres_target;

} // namespace troupe::test

#include "tests/contract/stories.hpp"
