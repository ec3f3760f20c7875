// The node on the in-memory event bus (see engine.hpp): sim's store, bus,
// consumers and relay on the node's real scheduler and the wall clock.
//
//   [http api] ─▶ memory_store ─▶ memory_db (orders, outbox, ...) ◀─ memory_reads ◀─ [http api]
//                      ▲                │ outbox
//   services, router ──┘        [relay_loop: sim::relay] ─produce─▶ sim::kafka
//        ▲                                                            │
//        └── delivery ◀── sim::consumer (one per role) ◀──fetch───────┘
//
// One node: the bus and the database live in this process, so nothing is
// shared with another node and everything is lost at exit.
#include <random>

#include "adapters/memory/memory_reads.hpp"
#include "apps/troupe-node/engine.hpp"
#include "envelope/codec.hpp"
#include "envelope/events.hpp"
#include "sim/consumer.hpp"
#include "sim/kafka.hpp"
#include "sim/memory_store.hpp"
#include "sim/relay.hpp"

namespace troupe {

namespace {

/// Jitter for the delivery actors, from any thread.
double unit() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>{0.0, 1.0}(rng);
}

/// How often the relay looks at the outbox, and how often a consumer with
/// work waiting on time polls (a consumer is also woken by every record).
constexpr std::chrono::milliseconds relay_interval{5};
constexpr std::chrono::milliseconds poll_interval{5};

} // namespace

engine memory_engine(node_context& n) {
  auto& cfg = n.cfg;
  engine e;
  auto db = std::make_shared<sim::memory_db>(); // on the wall clock
  auto bus = std::make_shared<sim::kafka>();
  bus->shared();
  bus->default_partitions = cfg.memory_partitions;
  for (auto* t : topics::engine_names)
    bus->create_topic(t, cfg.memory_partitions);
  n.partitions = [bus](const std::string& topic) {
    return bus->partitions(topic);
  };
  // The fence of the in-memory database: a claim is one step, at once.
  n.fencing = [db, node = cfg.node_id](std::function<void()> rehydrate) {
    struct assignment {
      std::mutex mtx;
      std::vector<int32_t> parts;
    };
    auto pending = std::make_shared<assignment>();
    partition_claims pc;
    pc.assigned = [pending](const std::vector<int32_t>& parts) {
      std::lock_guard<std::mutex> guard{pending->mtx};
      pending->parts.insert(pending->parts.end(), parts.begin(), parts.end());
    };
    pc.claim = [pending, db, node, rehydrate] {
      std::vector<int32_t> parts;
      {
        std::lock_guard<std::mutex> guard{pending->mtx};
        parts.swap(pending->parts);
      }
      db->claim(node, parts);
      rehydrate();
    };
    pc.released = [db, node](const std::vector<int32_t>& parts) {
      db->release(node, parts);
    };
    pc.not_ready = [] { return std::string{}; };
    return pc;
  };
  e.reads = std::make_shared<memory_reads>(db);
  if (cfg.has_role("api") || cfg.has_role("intake"))
    n.admission = std::make_shared<admission_gate>(
      admission_gate::settings{memory_open_orders(db), cfg.saga_max_in_flight});

  sim::memory_store_settings ms;
  ms.node_id = cfg.node_id;
  if (cfg.has_role("orchestrator"))
    ms.partition_of = [own = n.own](const std::string& id) {
      return own->partition_of(id);
    };
  n.store = n.supervise("memory store", [db, ms](caf::actor_system& sys) {
    return sim::spawn_memory_store(sys, db, ms);
  });
  e.dead_letter_fallback = n.sys.spawn(sim::dlq_producer, bus);
  e.consumer = [&n, bus, fallback = e.dead_letter_fallback](
                 const std::string& name, consumer_wiring w) {
    sim::consumer_config c;
    c.group = n.cfg.group_prefix + "." + name;
    c.member = n.cfg.node_id;
    c.bus = bus;
    c.routes = std::move(w.routes);
    c.decode = w.decode ? std::move(w.decode)
                        : [](const std::string& topic, const std::string& key,
                             const std::string& payload, std::string& corr) {
                            return codec::decode(topic, key, payload, corr);
                          };
    c.dead_letters = n.store;
    c.fallback = fallback;
    c.retry = n.cfg.retry_for(name);
    c.max_in_flight = static_cast<size_t>(n.cfg.max_in_flight);
    c.poll_interval = poll_interval;
    c.on_assigned = std::move(w.on_assigned);
    c.on_revoked = std::move(w.on_revoked);
    c.unit = unit;
    c.now = [] { return events::now_iso8601(); };
    return child_spec{"consumer " + name, [c](caf::local_actor* parent) {
                        return parent->system().spawn(sim::consumer, c);
                      }};
  };
  // One relay for the database: its state (rows in flight) survives a
  // restart of the loop, as the outbox's marks do.
  sim::relay::hooks hooks;
  hooks.at = [] { return events::now_iso8601(); };
  auto relay = std::make_shared<sim::relay>(db, bus, hooks);
  e.io.push_back(child_spec{"outbox relay", [relay](caf::local_actor* parent) {
                              return parent->system().spawn(
                                sim::relay_loop, relay, relay_interval);
                            }});
  e.where = "the in-memory event bus (" + std::to_string(cfg.memory_partitions)
            + " partitions per topic)";
  return e;
}

} // namespace troupe
