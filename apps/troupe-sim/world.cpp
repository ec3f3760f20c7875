#include "apps/troupe-sim/world.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <unordered_map>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/rules.hpp"
#include "actors/saga_router.hpp"
#include "actors/services.hpp"
#include "actors/topics.hpp"
#include "base/errors.hpp"
#include "base/mutants.hpp"
#include "base/partitioner.hpp"
#include "envelope/codec.hpp"
#include "runtime/relay_core.hpp"
#include "runtime/supervisor.hpp"
#include "sim/consumer.hpp"
#include "sim/kafka.hpp"
#include "sim/memory_store.hpp"
#include "sim/relay.hpp"

namespace troupe::mutants {
std::string active;
} // namespace troupe::mutants

namespace troupe::simulation {

namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

constexpr int64_t deadline_ms = 3000;   ///< of every order
constexpr int64_t faults_end_ms = 4000; ///< no fault starts after this
/// Liveness: every order is final this long after the faults stopped
/// (its deadline, then the sweeps, retries and rebalances that follow).
constexpr int64_t settle_ms = deadline_ms + 6000;
constexpr int64_t tick_ms = 5;
/// How long an orchestrator waits for the store (production: 30 s); slow
/// replies come later than this.
constexpr int64_t store_timeout_ms = 1000;
/// Liveness: every order is final this long after its deadline or after the
/// last fault ended, whichever is later (sweeps, retries with backoff, a
/// timed-out store request, a rebalance and its hand-off grace).
/// (The worst seen over seeds 1..1500 was 2760 ms.)
constexpr int64_t liveness_bound_ms = 4000;
constexpr int64_t default_stock = 40;
const char* skus[] = {"SKU-A", "SKU-B", "SKU-C"};

std::string order_uuid(uint64_t seed, int32_t i) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-0000-4000-8000-%012d",
                static_cast<unsigned>(seed & 0xffffffffu), i);
  return buf;
}

std::string short_id(const std::string& id) {
  return id.size() > 12 ? id.substr(id.size() - 4) : id;
}

struct node {
  std::string id;
  bool up = false;
  /// Everything the node runs, by strong handle: an actor nobody holds is
  /// destroyed as unreachable without its exit handler, and a supervisor
  /// that goes that way leaves its children running (node-b's saga router
  /// at seed 1574, sweeping a dead store forever, kept the actor system
  /// from shutting down). The process owns its actors until it dies.
  std::vector<caf::actor> actors;
  std::map<std::string, caf::actor> consumers;
  std::shared_ptr<std::set<int32_t>> owned;
};

struct planned_fault {
  int64_t at_ms = 0;
  std::string what;
  int32_t node = 0;
  int32_t count = 0;
};

class world {
public:
  explicit world(const options& opts)
    : opts_(opts),
      rng_(opts.seed),
      sys_(config(cfg_)),
      sched_(
        dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler())) {
    t0_ = sched_.clock().now();
    db_->clock = [this] { return now_ms(); };
    db_->on_saga_write = [this](const std::string& node, const saga_write& w) {
      on_saga_write(node, w);
    };
    bus_->on_commit =
      [this](const std::string& group, const topic_partition& tp, int64_t from,
             int64_t next) { on_commit(group, tp, from, next); };
    bus_->default_partitions = opts.partitions;
    for (auto t : {topics::order_created.name, topics::payment_result.name,
                   topics::inventory_result.name, topics::status_changed.name,
                   topics::inventory_release.name, topics::payment_refund.name,
                   topics::cancel_requested.name})
      bus_->create_topic(t, opts.partitions);
    dlq_ = sys_.spawn(sim::dlq_producer, bus_);
    api_store_ = sim::spawn_memory_store(sys_, db_, {});
    for (int32_t i = 0; i < opts.nodes; ++i) {
      node n;
      n.id = std::string{"node-"} + static_cast<char>('a' + i);
      nodes_.push_back(std::move(n));
    }
    plan_faults();
  }

  ~world() {
    stop();
  }

  /// Stops every actor; returns how many are still running (the actor
  /// system's destructor would wait for them forever).
  size_t stop() {
    for (size_t i = 0; i < nodes_.size(); ++i)
      crash(static_cast<int32_t>(i));
    caf::anon_send_exit(dlq_, caf::exit_reason::kill);
    caf::anon_send_exit(api_store_, caf::exit_reason::kill);
    for (auto& c : clients_)
      caf::anon_send_exit(c, caf::exit_reason::kill);
    sched_.run();
    return sys_.registry().running();
  }

  result run() {
    for (size_t i = 0; i < nodes_.size(); ++i)
      start(static_cast<int32_t>(i));
    plan_orders();
    auto end = faults_end_ms + settle_ms;
    while (now_ms() < end) {
      // A fault strikes amid the work of its tick, not only between ticks:
      // some of the pending actors run first.
      if (fault_due())
        run_jobs(static_cast<size_t>(uniform(0, 200)));
      faults();
      run_jobs();
      arrivals();
      relay();
      run_jobs();
      store_faults_spent();
      sched_.advance_time(ms{until_next(end)});
    }
    run_jobs();
    result r;
    check(r.violations);
    if (auto left = stop(); left > 0) {
      r.violations.push_back(std::to_string(left)
                             + " actor(s) still running after every node "
                               "stopped");
      leaked_ = true; // the actor system would wait for them forever
    }
    r.trace = std::move(trace_);
    r.simulated_seconds = static_cast<double>(now_ms()) / 1000.0;
    r.orders = opts_.orders;
    r.steps = steps_;
    r.liveness_bound_ms = liveness_bound_ms;
    return r;
  }

  /// Whether actors outlived their nodes: then the world cannot be
  /// destroyed (the actor system would wait for them) and is left behind.
  bool leaked() const {
    return leaked_;
  }

private:
  /// A fresh configuration per run: an actor system keeps what it takes.
  static caf::actor_system_config& config(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.inline-output", true);
    return cfg;
  }

  int64_t now_ms() const {
    return std::chrono::duration_cast<ms>(sched_.clock().now() - t0_).count();
  }

  double unit() {
    return std::uniform_real_distribution<double>{0.0, 1.0}(rng_);
  }

  int64_t uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>{lo, hi}(rng_);
  }

  /// The simulated time as the store's timestamps want it (the failure
  /// times of dead letters), counted from the epoch.
  std::string timestamp() const {
    auto t = now_ms();
    char buf[64];
    std::snprintf(buf, sizeof(buf), "1970-01-01T%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(t / 3600000),
                  static_cast<long long>(t / 60000 % 60),
                  static_cast<long long>(t / 1000 % 60),
                  static_cast<long long>(t % 1000));
    return buf;
  }

  /// Whether trace lines are kept or printed: callers on hot paths build
  /// none otherwise.
  bool tracing() const {
    return opts_.trace || debug_;
  }

  void note(const std::string& line) {
    if (debug_)
      std::fprintf(stderr, "t=%lldms %s\n", static_cast<long long>(now_ms()),
                   line.c_str());
    if (opts_.trace)
      trace_.push_back("t=" + std::to_string(now_ms()) + "ms " + line);
  }

  /// How far the clock goes next: one tick, or over the ticks in which
  /// nothing can happen (no actor waits to run, no timer is due, nothing is
  /// planned, the outbox is published) to the tick of the next thing that
  /// can. Skipping them changes nothing but the time it takes.
  int64_t until_next(int64_t end) const {
    auto now = now_ms();
    auto next = end;
    auto& timers = sched_.clock().schedule();
    if (!timers.empty())
      next = std::min(
        next, std::chrono::ceil<ms>(timers.begin()->first - t0_).count());
    if (next_fault_ < faults_.size())
      next = std::min(next, faults_[next_fault_].at_ms);
    for (auto& o : planned_)
      if (!o.sent)
        next = std::min(next, o.at_ms);
    for (auto& r : restart_consumers_)
      next = std::min(next, r.at_ms);
    if (relay_.relayed() < db_->outbox.size())
      next = now;
    auto ticks = std::max<int64_t>(1, (next - now + tick_ms - 1) / tick_ms);
    return ticks * tick_ms;
  }

  bool fault_due() const {
    return next_fault_ < faults_.size()
           && faults_[next_fault_].at_ms <= now_ms();
  }

  /// Runs pending actors (at most `max` runs), the next one picked by the
  /// seed.
  void run_jobs(size_t max = 1000000) {
    size_t n = 0;
    while (!sched_.jobs.empty() && n++ < max) {
      auto i = static_cast<size_t>(rng_() % sched_.jobs.size());
      std::swap(sched_.jobs.front(), sched_.jobs[i]);
      sched_.run_once();
      ++steps_;
    }
  }

  int32_t partition_of(const std::string& order_id) const {
    return partition_for(order_id, opts_.partitions);
  }

  // -- nodes ----------------------------------------------------------------

  void start(int32_t k) {
    auto& n = nodes_[static_cast<size_t>(k)];
    n.up = true;
    n.actors.clear();
    n.consumers.clear();
    n.owned = std::make_shared<std::set<int32_t>>();
    auto owned = n.owned;
    auto parts = opts_.partitions;
    sim::memory_store_settings ms_cfg;
    ms_cfg.node_id = n.id;
    ms_cfg.partition_of = [parts](const std::string& id) {
      return partition_for(id, parts);
    };
    auto store = sim::spawn_memory_store(sys_, db_, ms_cfg);
    n.actors.push_back(caf::actor_cast<caf::actor>(store));
    supervisor_config sc;
    sc.unit = [this] { return unit(); };
    auto keep = [&](auto handle) {
      n.actors.push_back(caf::actor_cast<caf::actor>(handle));
      return handle;
    };
    store_actor port = store;
    auto payment = keep(supervise_one(sys_, "payment", sc, [port](auto& sys) {
      return sys.spawn(payment_service, port);
    }));
    auto inventory
      = keep(supervise_one(sys_, "inventory", sc, [port](auto& sys) {
          return sys.spawn(inventory_service, port, default_stock);
        }));
    auto notification
      = keep(supervise_one(sys_, "notification", sc, [port](auto& sys) {
          return sys.spawn(notification_service, port);
        }));
    auto analytics
      = keep(supervise_one(sys_, "analytics", sc, [port](auto& sys) {
          return sys.spawn(analytics_service, port);
        }));
    saga_router_config rc;
    rc.sweep_interval = 500ms;
    rc.store_timeout = ms{store_timeout_ms};
    rc.passivate_after = ms{passivate_ms_};
    rc.owns = [owned, parts](const std::string& id) {
      return owned->count(partition_for(id, parts)) > 0;
    };
    rc.partition_of = [parts](const std::string& id) {
      return partition_for(id, parts);
    };
    auto router
      = keep(supervise_one(sys_, "saga router", sc, [port, rc](auto& sys) {
          return sys.spawn(saga_router, port, rc, true);
        }));
    auto base = [&](const char* group) {
      sim::consumer_config c;
      c.group = group;
      c.member = n.id;
      c.bus = bus_;
      c.decode = [this](const std::string& topic, const std::string& key,
                        const std::string& payload, std::string& corr) {
        return decode(topic, key, payload, corr);
      };
      c.dead_letters = store;
      c.fallback = dlq_;
      c.retry.base = 50ms;
      c.retry.cap = 400ms;
      c.poll_interval = 10ms;
      c.commit_interval = 20ms;
      c.revoke_grace = 500ms;
      c.unit = [this] { return unit(); };
      c.now = [this] { return timestamp(); };
      auto id = n.id;
      c.on_job = [this, id, g = std::string{group}](const delivery_job& j) {
        if (!tracing())
          return;
        note(id + " " + g + " <- " + j.topic + "[" + std::to_string(j.partition)
             + "]@" + std::to_string(j.offset) + " order " + short_id(j.key)
             + (j.malformed.empty() ? "" : " (malformed)"));
      };
      return c;
    };
    auto c = base("payment");
    c.routes.add(topics::order_created, payment);
    c.routes.add(topics::payment_refund, payment);
    add_consumer(n, c);
    c = base("inventory");
    c.routes.add(topics::order_created, inventory);
    c.routes.add(topics::inventory_release, inventory);
    add_consumer(n, c);
    c = base("notification");
    c.routes.add(topics::status_changed, notification);
    add_consumer(n, c);
    c = base("analytics");
    c.routes.add(topics::order_created, analytics);
    add_consumer(n, c);
    c = base("orchestrator");
    c.routes.add(topics::payment_result, router);
    c.routes.add(topics::inventory_result, router);
    c.routes.add(topics::cancel_requested, router);
    auto db = db_;
    auto id = n.id;
    c.on_assigned = [this, db, id, owned,
                     router](const std::vector<int32_t>& ps) {
      owned->insert(ps.begin(), ps.end());
      db->claim(id, ps);
      for (auto p : ps)
        claimant_[p] = id;
      note(id + " claims partitions " + list(ps));
      caf::anon_send(router, rehydrate_atom::value);
    };
    c.on_revoked = [this, db, id, owned,
                    router](const std::vector<int32_t>& ps) {
      for (auto p : ps)
        owned->erase(p);
      db->release(id, ps);
      note(id + " hands off partitions " + list(ps));
      caf::anon_send(router, revoke_atom::value, ps);
    };
    add_consumer(n, c);
    note(n.id + " started");
  }

  /// The production decoder, once per distinct message: every group that
  /// reads a topic, and every redelivery, gets the same bytes, and decoding
  /// is a function of them (CAF copies a shared message before a handler
  /// changes it).
  caf::expected<caf::message>
  decode(const std::string& topic, const std::string& key,
         const std::string& payload, std::string& corr) {
    auto id = topic;
    id += '\0';
    id += key;
    id += '\0';
    id += payload;
    auto i = decoded_.find(id);
    if (i == decoded_.end()) {
      decoded d;
      d.event = codec::decode(topic, key, payload, d.correlation_id);
      i = decoded_.emplace(std::move(id), std::move(d)).first;
    }
    corr = i->second.correlation_id;
    return i->second.event;
  }

  void add_consumer(node& n, sim::consumer_config c) {
    auto group = c.group;
    topics_[group] = c.routes.topics();
    auto a = sys_.spawn(sim::consumer, std::move(c));
    n.consumers[group] = a;
    n.actors.push_back(a);
  }

  std::vector<std::string> topics_of(const std::string& group) const {
    auto i = topics_.find(group);
    return i == topics_.end() ? std::vector<std::string>{} : i->second;
  }

  static std::string list(const std::vector<int32_t>& ps) {
    std::string s = "[";
    for (auto p : ps)
      s += (s.size() > 1 ? "," : "") + std::to_string(p);
    return s + "]";
  }

  /// The node's process dies: every actor at once, nothing committed that
  /// was not committed already. Its group memberships end when their
  /// sessions time out.
  void crash(int32_t k) {
    auto& n = nodes_[static_cast<size_t>(k)];
    if (!n.up)
      return;
    n.up = false;
    // Not `kill`: supervisors pass the exit on to their children.
    for (auto& a : n.actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    n.actors.clear();
    n.consumers.clear();
    note(n.id + " crashed");
  }

  void session_timeout(int32_t k) {
    auto& n = nodes_[static_cast<size_t>(k)];
    if (n.up)
      return;
    for (auto g : groups)
      bus_->leave(g, n.id);
    note(n.id + " left its groups (session timeout)");
  }

  // -- orders ---------------------------------------------------------------

  struct planned_order {
    int64_t at_ms = 0;
    create_order cmd;
    bool sent = false;
  };

  void plan_orders() {
    for (int32_t i = 0; i < opts_.orders; ++i) {
      planned_order o;
      o.at_ms = uniform(0, 2000);
      auto& c = o.cmd;
      c.order_id = order_uuid(opts_.seed, i);
      c.correlation_id = "corr-" + std::to_string(i);
      c.customer_email = "c" + std::to_string(i) + "@example.com";
      // One line in most orders, two or three distinct SKUs in some.
      auto first = uniform(0, 2);
      for (int64_t k = 0, n = uniform(0, 3) == 0 ? uniform(2, 3) : 1; k < n;
           ++k) {
        auto quantity
          = static_cast<int32_t>(uniform(1, 10) == 10 ? 11 : uniform(1, 8));
        auto amount = uniform(0, 9) == 0 ? 150000 : uniform(100, 90000);
        c.lines.push_back(single_line(skus[(first + k) % 3], quantity, amount));
      }
      c.sku = c.lines.front().sku;
      c.quantity = total_quantity(c.lines);
      c.amount_cents = total_amount(c.lines);
      c.deadline_ms = deadline_ms;
      planned_.push_back(o);
    }
    // Customers cancel some orders soon after placing them (not a fault,
    // but it races the results, the deadline and the faults).
    for (int64_t i = 0, n = uniform(0, 4); i < n; ++i) {
      auto k = static_cast<int32_t>(uniform(0, opts_.orders - 1));
      faults_.push_back(
        {planned_[static_cast<size_t>(k)].at_ms + uniform(0, 30),
         "customer-cancel", 0, k});
    }
    std::sort(faults_.begin(), faults_.end(),
              [](auto& x, auto& y) { return x.at_ms < y.at_ms; });
  }

  void arrivals() {
    for (auto& o : planned_) {
      if (o.sent || o.at_ms > now_ms())
        continue;
      // The API node: any live one (the POST is answered by its store).
      std::vector<int32_t> live;
      for (size_t i = 0; i < nodes_.size(); ++i)
        if (nodes_[i].up)
          live.push_back(static_cast<int32_t>(i));
      if (live.empty())
        continue; // clients retry later
      o.sent = true;
      auto k = live[static_cast<size_t>(
        uniform(0, static_cast<int64_t>(live.size()) - 1))];
      // A client: accepted when the store answered; after an error (503
      // from the API) it tries again a little later.
      auto* po = &o;
      clients_.push_back(sys_.spawn([this, po](caf::event_based_actor* self) {
        self->request(api_store_, caf::infinite, po->cmd)
          .then(
            [this, po](created_order&) {
              accepted_.push_back(po->cmd);
              if (tracing())
                note("order " + short_id(po->cmd.order_id) + " accepted");
            },
            [this, po](caf::error&) {
              po->sent = false;
              po->at_ms = now_ms() + 50;
              note("order " + short_id(po->cmd.order_id)
                   + " refused (the store is down); the client retries");
            });
      }));
      if (tracing())
        note(nodes_[static_cast<size_t>(k)].id + " receives order "
             + short_id(o.cmd.order_id) + " " + o.cmd.sku + " x"
             + std::to_string(o.cmd.quantity) + " "
             + std::to_string(o.cmd.amount_cents) + "c");
    }
  }

  // -- the relay ------------------------------------------------------------

  /// Which event the relay put at `tp`@`offset` (for the offset check).
  void remember(const sim::outbox_row& row, const topic_partition& tp,
                int64_t offset) {
    if (auto* x = std::get_if<order_created>(&row.event))
      published_[tp.partition][offset] = {x->event_id, x->order_id};
  }

  /// Publishes the outbox through the production relay's logic
  /// (sim/relay.hpp); the simulated produce reports at once. During the
  /// fault window a row is sometimes published twice (a lost delivery
  /// report).
  void relay() {
    relay_.run(relay_core::clock::time_point{} + ms{now_ms()});
  }

  sim::relay::hooks relay_hooks() {
    sim::relay::hooks h;
    h.at = [this] { return "t+" + std::to_string(now_ms()) + "ms"; };
    h.published = [this](const sim::outbox_row& row, const topic_partition& tp,
                         int64_t offset, bool again) {
      remember(row, tp, offset);
      if (again) {
        if (tracing())
          note("relay -> " + row.topic + " again (duplicate publish)");
        return false;
      }
      if (tracing())
        note("relay -> " + row.topic + "[" + std::to_string(tp.partition) + "]@"
             + std::to_string(offset) + " order " + short_id(row.key));
      return now_ms() < faults_end_ms && unit() < duplicate_rate_;
    };
    return h;
  }

  // -- faults ---------------------------------------------------------------

  void plan_faults() {
    duplicate_rate_ = unit() < 0.5 ? 0.1 : 0.0;
    auto nodes = static_cast<int64_t>(opts_.nodes);
    if (unit() < 0.6) {
      auto k = static_cast<int32_t>(uniform(0, nodes - 1));
      auto at = uniform(100, 3000);
      faults_.push_back({at, "crash", k, 0});
      faults_.push_back({at + 1000, "session-timeout", k, 0});
      faults_.push_back({at + uniform(1200, 3500), "restart", k, 0});
    }
    if (unit() < 0.5)
      faults_.push_back({uniform(100, 3500), "consumer-crash",
                         static_cast<int32_t>(uniform(0, nodes - 1)),
                         static_cast<int32_t>(uniform(0, 4))});
    if (unit() < 0.4)
      faults_.push_back({uniform(100, 3500), "store-outage", 0,
                         static_cast<int32_t>(uniform(1, 30))});
    if (unit() < 0.3)
      faults_.push_back({uniform(100, 3500), "commit-unknown", 0,
                         static_cast<int32_t>(uniform(1, 3))});
    if (unit() < 0.3)
      faults_.push_back(
        {uniform(100, 3500), "poison", 0, static_cast<int32_t>(uniform(0, 1))});
    if (unit() < 0.2)
      faults_.push_back({uniform(500, 3500), "clock-jump", 0, 0});
    if (unit() < 0.3)
      faults_.push_back({uniform(100, 3500), "slow-reply", 0,
                         static_cast<int32_t>(uniform(1, 3))});
    if (unit() < 0.25) {
      auto at = uniform(100, 3500);
      faults_.push_back({at, "broker-down", 0, 0});
      faults_.push_back({at + uniform(100, 1500), "broker-up", 0, 0});
    }
    if (unit() < 0.35) {
      auto k = static_cast<int32_t>(uniform(0, nodes - 1));
      auto at = uniform(100, 3500);
      faults_.push_back({at, "stale-owner", k, 0});
      faults_.push_back({at + uniform(300, 1500), "stale-owner-ends", k, 0});
    }
    if (unit() < 0.25)
      faults_.push_back({uniform(100, 3500), "commit-fails", 0,
                         static_cast<int32_t>(uniform(1, 3))});
    std::sort(faults_.begin(), faults_.end(),
              [](auto& x, auto& y) { return x.at_ms < y.at_ms; });
    // Half the runs passivate idle orchestrators: their sagas come back
    // from the store on the next event or near their deadline.
    passivate_ms_ = unit() < 0.5 ? 0 : uniform(10, 800);
  }

  void faults() {
    while (next_fault_ < faults_.size()
           && faults_[next_fault_].at_ms <= now_ms()) {
      auto f = faults_[next_fault_++];
      auto& n = nodes_[static_cast<size_t>(f.node)];
      if (f.what != "customer-cancel")
        faults_stop_ms_ = now_ms(); // after a clock jump: the time it fired
      if (f.what == "crash") {
        crash(f.node);
      } else if (f.what == "session-timeout") {
        session_timeout(f.node);
      } else if (f.what == "restart") {
        if (!n.up)
          start(f.node);
      } else if (f.what == "consumer-crash") {
        auto g = groups[f.count];
        if (n.up && n.consumers.count(g) > 0) {
          // Dies before its next commit; the same member comes back.
          caf::anon_send_exit(n.consumers[g], caf::exit_reason::kill);
          note(n.id + " consumer " + g + " crashed");
          restart_consumers_.push_back({now_ms() + 100, f.node, g});
        }
      } else if (f.what == "store-outage") {
        db_->faults.fail_next += f.count;
        note("store refuses the next " + std::to_string(f.count) + " writes");
      } else if (f.what == "commit-fails") {
        db_->faults.fail_commit_next += f.count;
        note("the store fails its next " + std::to_string(f.count)
             + " commit(s): nothing of them is applied");
      } else if (f.what == "commit-unknown") {
        // Not the very next commits (the sweeps and new orders of this
        // tick): one a little later, of whatever kind it is.
        db_->faults.unknown_commit_after = static_cast<int>(uniform(0, 40));
        db_->faults.unknown_commit_next += f.count;
        note("the store leaves " + std::to_string(f.count)
             + " commit(s) unknown after the next "
             + std::to_string(db_->faults.unknown_commit_after)
             + " (their commands run again alone)");
      } else if (f.what == "poison") {
        auto topic = f.count == 0 ? topics::order_created.name
                                  : topics::payment_result.name;
        bus_->produce(topic, "poison", std::string{"\xff\xfe not json"});
        note("poison message on " + std::string{topic});
      } else if (f.what == "customer-cancel") {
        auto id = order_uuid(opts_.seed, f.count);
        clients_.push_back(sys_.spawn([this, id](caf::event_based_actor* self) {
          self->request(api_store_, caf::infinite, cancel_order{id})
            .then(
              [this, id](cancel_answer& a) {
                if (a.recorded)
                  cancels_.insert(id);
                note("customer cancels order " + short_id(id) + ": "
                     + (a.recorded ? "recorded" : "too late or unknown"));
              },
              [this, id](caf::error& err) {
                // Unknown: the cancel may be recorded (its commit and the
                // re-run that could tell both went unanswered).
                if (has_code(err, troupe_errc::commit_unknown)) {
                  cancels_.insert(id);
                  note("customer cancel of " + short_id(id)
                       + ": outcome unknown");
                  return;
                }
                note("customer cancel of " + short_id(id) + " refused");
              });
        }));
      } else if (f.what == "slow-reply") {
        db_->faults.slow_reply_next += f.count;
        db_->faults.slow_reply_ms = store_timeout_ms + uniform(100, 1000);
        note("the next " + std::to_string(f.count)
             + " saga commits are answered after "
             + std::to_string(db_->faults.slow_reply_ms) + " ms (store timeout "
             + std::to_string(store_timeout_ms) + " ms)");
      } else if (f.what == "broker-down") {
        bus_->set_down(true);
        note("the broker is down (produce, fetch and commit fail)");
      } else if (f.what == "broker-up") {
        bus_->set_down(false);
        note("the broker is back");
      } else if (f.what == "stale-owner") {
        if (n.up) {
          for (auto g : groups)
            bus_->isolate(g, n.id);
          note(n.id
               + " is cut off from the group coordinator: its partitions"
                 " move, it keeps running as a stale owner");
        }
      } else if (f.what == "stale-owner-ends") {
        if (n.up) {
          for (auto& [g, c] : n.consumers)
            bus_->reconnect(g, n.id, topics_of(g));
          note(n.id + " reaches the coordinator again and rejoins");
        }
      } else if (f.what == "clock-jump") {
        note("clock jumps past the deadline");
        sched_.advance_time(ms{deadline_ms + 500});
        faults_stop_ms_ = now_ms();
      }
    }
    for (auto i = restart_consumers_.begin(); i != restart_consumers_.end();) {
      if (i->at_ms > now_ms()) {
        ++i;
        continue;
      }
      // A whole-node restart replaces the consumer anyway.
      auto& n = nodes_[static_cast<size_t>(i->node)];
      if (n.up) {
        crash(i->node);
        start(i->node);
      }
      faults_stop_ms_ = now_ms();
      i = restart_consumers_.erase(i);
    }
  }

  /// The store's faults last until the commands they hit are spent: a
  /// fault window closes when its last refused or mangled command ran.
  void store_faults_spent() {
    auto& f = db_->faults;
    auto left = f.fail_next + f.fail_commit_next + f.unknown_commit_next
                + f.lose_reply_next + f.slow_reply_next + f.fenced_next
                + f.fail_loads_next;
    if (left < store_faults_left_) {
      faults_stop_ms_ = now_ms();
      if (left == 0)
        note("the store's injected faults are spent");
    }
    store_faults_left_ = left;
  }

  // -- invariants -------------------------------------------------------------

  /// Checks each commit of `order.created` by the payment and inventory
  /// groups as Kafka accepts it: the work of every message it moves past is
  /// in the store already (its effect, or its dead letter).
  void on_commit(const std::string& group, const topic_partition& tp,
                 int64_t from, int64_t next) {
    if (tp.topic != topics::order_created.name
        || (group != "payment" && group != "inventory"))
      return;
    auto& sent = published_[tp.partition];
    for (auto i = sent.lower_bound(from); i != sent.end() && i->first < next;
         ++i)
      if (!work_done(group, tp.partition, i->first, i->second.first))
        step_violations_.push_back(
          group + " committed " + tp.topic + "[" + std::to_string(tp.partition)
          + "]@" + std::to_string(i->first)
          + " at t=" + std::to_string(now_ms())
          + "ms before its work was durable (order " + i->second.second + ")");
  }

  /// Whether `group`'s work on the `order.created` event at `partition` and
  /// `offset` is in the store: its effect, or its dead letter.
  bool work_done(const std::string& group, int32_t partition, int64_t offset,
                 const std::string& event_id) const {
    if (db_->processed.count({group, event_id}) > 0)
      return true;
    for (auto& d : db_->dead_letters)
      if (d.consumer == group && d.partition == partition && d.offset == offset
          && d.topic == topics::order_created.name)
        return true;
    return false;
  }

  /// Checks each saga write as the store applies it: the node that wrote it
  /// holds the latest claim of the order's partition (no write of a stale
  /// owner is applied), and a final status, once written, stays.
  void on_saga_write(const std::string& node, const saga_write& w) {
    auto p = partition_of(w.order_id);
    auto owner = claimant_.find(p);
    if (owner == claimant_.end() || owner->second != node)
      step_violations_.push_back(
        "a write of a stale owner was applied: " + node
        + " wrote at t=" + std::to_string(now_ms()) + "ms while "
        + (owner == claimant_.end() ? "nobody" : owner->second)
        + " held partition " + std::to_string(p) + " (order " + w.order_id
        + ")");
    if (w.final_status == order_status::fresh)
      return;
    auto [at, first] = final_at_.emplace(w.order_id, now_ms());
    if (!first)
      step_violations_.push_back("final status written twice (order "
                                 + w.order_id + ")");
  }

  void check(std::vector<std::string>& out) {
    auto fail = [&](const std::string& order, const std::string& what) {
      out.push_back(what + (order.empty() ? "" : " (order " + order + ")"));
    };
    out.insert(out.end(), step_violations_.begin(), step_violations_.end());
    index_outbox();
    std::map<std::string, int64_t> reserved_qty;
    for (auto& c : accepted_) {
      auto o = db_->orders.find(c.order_id);
      if (o == db_->orders.end()) {
        fail(c.order_id, "accepted order is missing from the store");
        continue;
      }
      auto& row = o->second;
      auto final = row.status == order_status::confirmed
                   || row.status == order_status::cancelled;
      if (!final) {
        fail(c.order_id, "liveness: not final " + std::to_string(settle_ms)
                           + " ms after the faults stopped (status "
                           + to_string(row.status) + ")");
        continue;
      }
      // Liveness, timed: final within the bound after the order's deadline
      // or the end of the last fault, whichever came later.
      if (auto at = final_at_.find(c.order_id); at != final_at_.end()) {
        auto due = std::max(row.created_at_ms + deadline_ms, faults_stop_ms_)
                   + liveness_bound_ms;
        if (at->second > due)
          fail(c.order_id, "liveness: final at t=" + std::to_string(at->second)
                             + "ms, later than t=" + std::to_string(due)
                             + "ms (deadline or last fault + "
                             + std::to_string(liveness_bound_ms) + " ms)");
      }
      auto pay = db_->payments.find(c.order_id);
      auto res = db_->reservations.find(c.order_id);
      bool paid = pay != db_->payments.end() && pay->second.approved;
      bool refunded = pay != db_->payments.end() && pay->second.refunded;
      bool reserved = res != db_->reservations.end();
      bool released
        = reserved && res->second.status == sim::reservation_status::released;
      // The rules, from what payment and inventory decided.
      if (pay != db_->payments.end()
          && paid != (c.amount_cents <= rules::max_amount_cents))
        fail(c.order_id, "payment decided against the rule");
      if (rules::inventory_precheck(c.lines) != cancel_reason::none && reserved)
        fail(c.order_id, "reserved over the quantity limit");
      if (row.status == order_status::confirmed) {
        if (!paid || !reserved)
          fail(c.order_id, "CONFIRMED without payment and reservation");
        if (refunded || released)
          fail(c.order_id, "CONFIRMED but compensated");
      } else {
        if (paid && !refunded)
          fail(c.order_id, "CANCELLED, paid, never refunded");
        if (reserved && !released)
          fail(c.order_id, "CANCELLED, reserved, never released");
        if (row.reason == cancel_reason::payment_declined && paid)
          fail(c.order_id, "cancelled as declined but paid");
        if (row.reason == cancel_reason::customer_cancelled
            && cancels_.count(c.order_id) == 0)
          fail(c.order_id, "cancelled for a customer who never asked");
      }
      if (reserved && !released)
        for (auto& line : sim::lines_of(res->second))
          reserved_qty[line.sku] += line.quantity;
      // Each state change once, with its event.
      auto events = [&](const char* topic) {
        return event_count(topic, c.order_id);
      };
      if (events(topics::status_changed.name) != 1)
        fail(c.order_id, "final status announced "
                           + std::to_string(events(topics::status_changed.name))
                           + " times");
      if (events(topics::order_created.name) != 1)
        fail(c.order_id, "order.created emitted "
                           + std::to_string(events(topics::order_created.name))
                           + " times");
      if (events(topics::payment_result.name) > 1)
        fail(c.order_id, "payment decided more than once");
      if (events(topics::inventory_result.name) > 1)
        fail(c.order_id, "inventory decided more than once");
      if (events(topics::payment_refund.name) > 1)
        fail(c.order_id, "refund requested more than once");
      if (events(topics::inventory_release.name) > 1)
        fail(c.order_id, "release requested more than once");
      if (events(topics::payment_refund.name) == 1 && !paid)
        fail(c.order_id, "refund requested of an order never paid");
      check_events(c.order_id, row, fail);
    }
    // Stock is conserved: what is held equals what left the shelf.
    for (auto sku : skus) {
      auto s = db_->stock.find(sku);
      if (s == db_->stock.end())
        continue;
      if (s->second + reserved_qty[sku] != default_stock)
        out.push_back(std::string{"stock of "} + sku
                      + " not conserved: " + std::to_string(s->second)
                      + " available + " + std::to_string(reserved_qty[sku])
                      + " held != " + std::to_string(default_stock));
      if (s->second < 0)
        out.push_back(std::string{"stock of "} + sku + " below zero");
    }
    check_offsets(out);
  }

  /// Counts the outbox and the applied saga writes once per run, by order.
  void index_outbox() {
    for (auto& r : db_->outbox) {
      ++events_[{r.topic, r.key}];
      if (auto* x = std::get_if<order_created>(&r.event))
        created_event_[r.key] = x->event_id;
    }
    for (auto& w : db_->saga_writes) {
      auto& t = writes_[w.order_id];
      t.finals += w.final_status != order_status::fresh;
      t.releases += w.release;
      t.refunds += w.refund;
    }
  }

  /// Outbox rows of `topic` for `key` (what `memory_db::count_events` says).
  int64_t event_count(const char* topic, const std::string& key) const {
    auto i = events_.find({topic, key});
    return i == events_.end() ? 0 : i->second;
  }

  /// No outgoing event without the state change that emitted it, and no
  /// state change without its event: each decision, compensation and final
  /// status is in the store exactly as often as its outbox event.
  template <class Fail>
  void
  check_events(const std::string& id, const sim::order_row& row, Fail& fail) {
    auto events = [&](const char* topic) { return event_count(topic, id); };
    auto& created_event = created_event_[id];
    auto decided = [&](const char* consumer) -> int64_t {
      return db_->processed.count({consumer, created_event});
    };
    auto& t = writes_[id];
    auto finals = t.finals;
    auto releases = t.releases;
    auto refunds = t.refunds;
    auto pay = db_->payments.find(id);
    auto res = db_->reservations.find(id);
    auto pair = [&](const char* what, int64_t changes, const char* topic) {
      auto n = events(topic);
      if (n != changes)
        fail(id, std::string{what} + " in the store " + std::to_string(changes)
                   + " time(s), " + topic + " emitted " + std::to_string(n)
                   + " time(s)");
    };
    pair("payment decided", decided("payment"), topics::payment_result.name);
    pair("inventory decided", decided("inventory"),
         topics::inventory_result.name);
    pair("final status written", finals, topics::status_changed.name);
    pair("release decided", releases, topics::inventory_release.name);
    pair("refund decided", refunds, topics::payment_refund.name);
    pair("cancel requested", row.cancel_requested,
         topics::cancel_requested.name);
    if ((pay != db_->payments.end()) != (decided("payment") > 0))
      fail(id, "a payment row without its decision, or the reverse");
    if (res != db_->reservations.end()
        && res->second.status == sim::reservation_status::released
        && events(topics::inventory_release.name) == 0)
      fail(id, "stock released without a release event");
    if (pay != db_->payments.end() && pay->second.refunded
        && events(topics::payment_refund.name) == 0)
      fail(id, "refunded without a refund event");
  }

  /// No offset is committed past work that is not durable: every message
  /// below a group's committed offset left its trace in the store.
  void check_offsets(std::vector<std::string>& out) {
    struct group_topic {
      const char* group;
      const char* topic;
    };
    const group_topic checked[] = {{"payment", topics::order_created.name},
                                   {"inventory", topics::order_created.name}};
    for (auto& gt : checked) {
      for (int32_t p = 0; p < opts_.partitions; ++p) {
        topic_partition tp{gt.topic, p};
        auto upto = bus_->committed(gt.group, tp);
        for (auto& [offset, ev] : published_[p]) {
          if (offset >= upto)
            break;
          if (!work_done(gt.group, p, offset, ev.first))
            out.push_back(std::string{gt.group} + " committed " + gt.topic + "["
                          + std::to_string(p) + "]@" + std::to_string(offset)
                          + " without its work (order " + ev.second + ")");
        }
      }
    }
  }

  struct decoded {
    caf::expected<caf::message> event = caf::message{};
    std::string correlation_id;
  };

  struct consumer_restart {
    int64_t at_ms;
    int32_t node;
    std::string group;
  };

  options opts_;
  std::mt19937_64 rng_;
  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::scheduler::test_coordinator& sched_;
  caf::actor_clock::time_point t0_;
  std::shared_ptr<sim::memory_db> db_ = std::make_shared<sim::memory_db>();
  std::shared_ptr<sim::kafka> bus_ = std::make_shared<sim::kafka>();
  dead_letter_fallback_actor dlq_;
  node_store_actor api_store_; ///< where POST /orders lands
  std::vector<caf::actor> clients_;
  /// Orders whose cancel was recorded, or may have been (unknown commit).
  std::set<std::string> cancels_;
  std::vector<node> nodes_;
  std::vector<planned_order> planned_;
  std::vector<create_order> accepted_;
  std::vector<planned_fault> faults_;
  size_t next_fault_ = 0;
  std::vector<consumer_restart> restart_consumers_;
  double duplicate_rate_ = 0;
  /// The production relay's logic over the outbox.
  sim::relay relay_{db_, bus_, relay_hooks()};
  /// `order.created` as published: partition -> offset -> (event, order).
  std::map<int32_t, std::map<int64_t, std::pair<std::string, std::string>>>
    published_;
  std::unordered_map<std::string, decoded> decoded_;
  static constexpr const char* groups[]
    = {"payment", "inventory", "notification", "analytics", "orchestrator"};
  std::map<std::string, std::vector<std::string>> topics_; ///< by group
  /// Partition -> the node that claimed it last (what fencing must enforce).
  std::map<int32_t, std::string> claimant_;
  std::map<std::string, int64_t> final_at_; ///< order -> when it became final
  int64_t faults_stop_ms_ = 0;    ///< when the last fault so far struck
  int64_t store_faults_left_ = 0; ///< commands the store's faults still hit
  int64_t passivate_ms_ = 0; ///< saga.passivate-after of every node; 0: off
  std::vector<std::string> step_violations_; ///< found while running
  struct write_tally {
    int64_t finals = 0;
    int64_t releases = 0;
    int64_t refunds = 0;
  };
  std::map<std::pair<std::string, std::string>, int64_t> events_;
  std::map<std::string, std::string> created_event_; ///< order -> event id
  std::map<std::string, write_tally> writes_;        ///< by order
  std::vector<std::string> trace_;
  bool debug_ = std::getenv("TROUPE_SIM_DEBUG") != nullptr;
  uint64_t steps_ = 0;
  bool leaked_ = false;
};

} // namespace

result run(const options& opts) {
  mutants::active = opts.mutant;
  auto w = std::make_unique<world>(opts);
  auto r = w->run();
  if (w->leaked())
    w.release(); // reported as a violation; destroying it would hang
  return r;
}

const std::vector<std::string>& mutant_names() {
  static const std::vector<std::string> names{
    "commit-before-write",       "skip-dedup", "release-twice",
    "confirm-without-inventory", "skip-fence", "drop-cancel-event"};
  return names;
}

} // namespace troupe::simulation
