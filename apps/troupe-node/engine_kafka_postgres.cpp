// The node on Kafka and PostgreSQL (see engine.hpp).
#include <caf/send.hpp>

#include "adapters/kafka/consumer.hpp"
#include "adapters/kafka/dead_letter_producer.hpp"
#include "adapters/kafka/metadata.hpp"
#include "adapters/outbox/outbox_relay.hpp"
#include "adapters/postgres/admission.hpp"
#include "adapters/postgres/fencing.hpp"
#include "adapters/postgres/migrations.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "adapters/postgres/queries.hpp"
#include "adapters/postgres/retention.hpp"
#include "apps/troupe-node/engine.hpp"
#include "apps/troupe-node/settings.hpp"

namespace troupe {

engine kafka_postgres_engine(node_context& n) {
  auto& cfg = n.cfg;
  auto& sys = n.sys;
  auto kafka = kafka_settings_of(cfg);
  engine e;
  auto metadata = std::make_shared<kafka_metadata>(kafka);
  n.partitions = [metadata](const std::string& topic) {
    return metadata->partitions(topic);
  };
  std::shared_ptr<partition_fence> fence;
  if (cfg.has_role("orchestrator"))
    fence = std::make_shared<partition_fence>(
      cfg.pg_url, cfg.node_id,
      [own = n.own](const std::string& id) { return own->partition_of(id); });
  // Claims run on the claimer's thread with backoff until they succeed.
  n.fencing = [&n, fence](std::function<void()> rehydrate) {
    partition_claimer::settings ps;
    ps.base = n.retry.base;
    ps.cap = std::min(n.retry.cap, std::chrono::milliseconds{2000});
    auto claimer = std::make_shared<partition_claimer>(
      fence, n.cfg.pg_url, ps,
      [rehydrate](const std::vector<int32_t>&) { rehydrate(); });
    n.keep.push_back(claimer);
    partition_claims pc;
    pc.assigned = [fence](const std::vector<int32_t>& parts) {
      fence->assign(parts);
    };
    pc.claim = [claimer] { claimer->wake(); };
    pc.released = [fence](const std::vector<int32_t>& parts) {
      fence->release(parts);
    };
    pc.not_ready = [fence] { return fence->not_ready_reason(); };
    return pc;
  };
  auto queries = std::make_shared<order_queries>(cfg.pg_url, 8);
  e.reads = queries;
  if (cfg.has_role("api") || cfg.has_role("intake"))
    n.admission = std::make_shared<admission_gate>(admission_gate::settings{
      pg_open_orders(cfg.pg_url), cfg.saga_max_in_flight});
  n.checks.push_back({"postgres", [queries] {
                        std::string why;
                        return queries->ready(latest_migration(), why) ? ""
                                                                       : why;
                      }});
  n.checks.push_back(
    {"kafka", [metadata] { return metadata->why_unreachable(); }});

  // Every service and adapter actor runs under a supervisor that restarts
  // it with backoff. Others hold the supervisor's handle, which forwards to
  // the current incarnation and stays valid across restarts.
  n.store = n.supervise(
    "postgres store", [pg = pg_settings_of(cfg, fence)](caf::actor_system& s) {
      return spawn_pg_store(s, pg);
    });
  // Dead letters that PostgreSQL refuses go straight to Kafka.
  e.dead_letter_fallback = sys.spawn<caf::detached>(dead_letter_producer,
                                                    kafka);
  e.consumer = [&n, kafka, fallback = e.dead_letter_fallback](
                 const std::string& name, consumer_wiring w) {
    consumer_config c;
    c.name = name;
    c.kafka = kafka;
    c.dead_letters = n.store;
    c.dead_letter_fallback = fallback;
    c.retry = n.cfg.retry_for(c.name);
    c.max_in_flight = static_cast<size_t>(n.cfg.max_in_flight);
    c.routes = std::move(w.routes);
    c.decode = std::move(w.decode);
    c.on_assigned = std::move(w.on_assigned);
    c.on_revoked = std::move(w.on_revoked);
    return child_spec{"consumer " + c.name, [c](caf::local_actor* parent) {
                        return parent->system().spawn<caf::detached>(
                          kafka_consumer, c);
                      }};
  };
  e.io.push_back(child_spec{
    "outbox relay", [relay = relay_config_of(cfg)](caf::local_actor* parent) {
      return parent->system().spawn<caf::detached>(outbox_relay, relay);
    }});
  // Retention on every node; the advisory lock lets one run at a time.
  e.io.push_back(child_spec{
    "retention", [rs = retention_settings_of(cfg)](caf::local_actor* parent) {
      return parent->system().spawn<caf::detached>(retention, rs);
    }});
  e.where = "kafka bootstrap " + kafka.brokers;
  return e;
}

} // namespace troupe
