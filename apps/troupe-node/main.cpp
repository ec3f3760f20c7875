// troupe-node: the engine. Wires the actors of the roles this node runs.
//
//   [http api] ─▶ [pg_store] ◀─ [payment] ◀─ consumer(order.created, payment.refund)
//                     ▲ ▲      ◀─ [inventory] ◀─ consumer(order.created, inventory.release)
//                     │ └───── ◀─ [saga router] ─▶ orchestrators ◀─ consumer(*.result)
//                     │        ◀─ [notification] ◀─ consumer(order.status.changed)
//                     │        ◀─ [analytics] ◀─ consumer(order.created)
//   [outbox relay] ───┘ (claims outbox rows, produces them to Kafka)
//
// Only this file decides which actors run detached (blocking I/O) and who
// owns whom. SIGINT/SIGTERM drain the node: HTTP answers 503, consumers
// commit and leave their groups, the relay flushes, then the process exits 0.
#include <atomic>
#include <csignal>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include <sys/resource.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <librdkafka/rdkafka.h>

#include "actors/saga_router.hpp"
#include "actors/services.hpp"
#include "adapters/http/http_api.hpp"
#include "adapters/kafka/consumer.hpp"
#include "adapters/kafka/dead_letter_producer.hpp"
#include "adapters/kafka/partitioner.hpp"
#include "adapters/outbox/outbox_relay.hpp"
#include "adapters/postgres/migrations.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "adapters/postgres/queries.hpp"
#include "adapters/postgres/retention.hpp"
#include "apps/troupe-node/node_config.hpp"
#include "base/secrets.hpp"
#include "envelope/events.hpp"
#include "observability/log.hpp"
#include "runtime/supervisor.hpp"

using namespace troupe;

namespace {

/// Readiness of the node's dependencies, refreshed by a background thread.
class readiness_probe {
public:
  readiness_probe(std::shared_ptr<order_queries> q, kafka_settings kafka)
    : queries_(std::move(q)) {
    auto conf = make_conf(kafka);
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk_ == nullptr)
      rd_kafka_conf_destroy(conf);
    thread_ = std::thread{[this] { run(); }};
  }

  ~readiness_probe() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
    if (rk_)
      rd_kafka_destroy(rk_);
  }

  bool ready(std::string& why) {
    std::lock_guard<std::mutex> guard{mtx_};
    why = why_;
    return ready_;
  }

  /// Partitions of `topic`, or 0 when the brokers do not answer.
  int32_t partitions(const char* topic) {
    if (rk_ == nullptr)
      return 0;
    auto t = rd_kafka_topic_new(rk_, topic, nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    int32_t n = 0;
    if (rd_kafka_metadata(rk_, 0, t, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1 && md->topics[0].err == 0)
        n = md->topics[0].partition_cnt;
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    return n;
  }

  void not_ready_because(std::string why) {
    std::lock_guard<std::mutex> guard{mtx_};
    forced_ = std::move(why);
  }

  /// An extra condition: `why_not` answers why the node is not ready, or "".
  /// Called on the probe's thread.
  void require(std::function<std::string()> why_not) {
    std::lock_guard<std::mutex> guard{mtx_};
    checks_.push_back(std::move(why_not));
  }

  /// Called on the probe's thread after each poll that Kafka answered.
  void on_kafka_answer(std::function<void(readiness_probe&)> f) {
    std::lock_guard<std::mutex> guard{mtx_};
    kafka_hooks_.push_back(std::move(f));
  }

  /// Health of one supervisor's children; not ready while one restarts.
  void supervision(const std::string& supervisor, bool healthy,
                   const std::string& why) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (healthy)
      supervision_.erase(supervisor);
    else
      supervision_[supervisor] = why;
  }

private:
  void run() {
    while (!stop_) {
      std::string why;
      bool ok = queries_->ready(latest_migration(), why);
      if (ok) {
        const rd_kafka_metadata_t* md = nullptr;
        if (rk_ == nullptr
            || rd_kafka_metadata(rk_, 1, nullptr, &md, 1000)
                 != RD_KAFKA_RESP_ERR_NO_ERROR) {
          ok = false;
          why = "kafka: brokers unreachable";
        } else {
          rd_kafka_metadata_destroy(md);
          kafka_answered();
        }
      }
      if (ok)
        ok = extra_checks(why);
      {
        std::lock_guard<std::mutex> guard{mtx_};
        if (ok && !supervision_.empty()) {
          ok = false;
          why = "restarting:";
          for (auto& [sup, what] : supervision_)
            why += " " + what;
        }
        if (!forced_.empty()) {
          ok = false;
          why = forced_;
        }
        ready_ = ok;
        why_ = why;
      }
      for (int i = 0; i < 10 && !stop_; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  void kafka_answered() {
    std::vector<std::function<void(readiness_probe&)>> hooks;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      hooks = kafka_hooks_;
    }
    for (auto& f : hooks)
      f(*this);
  }

  bool extra_checks(std::string& why) {
    std::vector<std::function<std::string()>> checks;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      checks = checks_;
    }
    for (auto& check : checks) {
      auto reason = check();
      if (!reason.empty()) {
        why = std::move(reason);
        return false;
      }
    }
    return true;
  }

  std::shared_ptr<order_queries> queries_;
  rd_kafka_t* rk_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mtx_;
  bool ready_ = false;
  std::string why_ = "starting";
  std::string forced_;
  std::map<std::string, std::string> supervision_;
  std::vector<std::function<std::string()>> checks_;
  std::vector<std::function<void(readiness_probe&)>> kafka_hooks_;
};

/// Partitions of the orchestrator's topics owned by this node.
struct ownership {
  std::mutex mtx;
  std::set<int32_t> owned;
  std::atomic<int32_t> partitions{0};
  int32_t partition_of(const std::string& order_id) const {
    auto n = partitions.load();
    return n > 0 ? partition_for(order_id, n) : -1;
  }
  bool owns(const std::string& order_id) {
    auto p = partition_of(order_id);
    std::lock_guard<std::mutex> guard{mtx};
    return p >= 0 && owned.count(p) > 0;
  }
};

/// Secrets the process knows are masked in every line it prints, and the
/// PostgreSQL password reaches libpq through its own environment variable,
/// never through a connection string that could be printed.
void protect_secrets(const node_config& cfg) {
  // From the environment itself: a configuration error may come before
  // `cfg` has read them.
  for (auto name :
       {"PGPASSWORD", "TROUPE_POSTGRES_PASSWORD", "TROUPE_KAFKA_SASL_PASSWORD",
        "TROUPE_HTTP_ADMIN_TOKEN", "TROUPE_HTTP_METRICS_TOKEN"})
    if (auto v = std::getenv(name))
      secrets::remember(v);
  secrets::remember(cfg.sasl_password);
  if (!cfg.pg_password.empty()) {
    secrets::remember(cfg.pg_password);
    setenv("PGPASSWORD", cfg.pg_password.c_str(), 1);
  }
}

/// Many keep-alive clients need many descriptors: take the hard limit.
void raise_fd_limit(int32_t max_connections) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  auto need = static_cast<rlim_t>(max_connections) + 256;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < need)
    log::warn("node",
              "open files limited to {}; http.max-connections={} "
              "needs about {}",
              static_cast<uint64_t>(lim.rlim_cur), max_connections,
              static_cast<uint64_t>(need));
}

/// A supervisor's start function for `fun(xs...)`: a supervised child is
/// held by its untyped handle, which the supervisor forwards to.
template <class F, class... Ts>
std::function<caf::actor(caf::actor_system&)> spawner(F fun, Ts... xs) {
  return [=](caf::actor_system& sys) {
    return caf::actor_cast<caf::actor>(sys.spawn(fun, xs...));
  };
}

int wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

} // namespace

int main(int argc, char** argv) {
  // Block the shutdown signals in every thread; main waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  node_config cfg;
  if (auto err = cfg.load(argc, argv); !err.empty()) {
    protect_secrets(cfg);
    std::cerr << "troupe-node: " << secrets::redact(err) << std::endl;
    return 2;
  }
  protect_secrets(cfg);
  if (cfg.cli_helptext_printed)
    return 0;
  if (!log::init(cfg.node_id, cfg.log_level, cfg.log_format)) {
    std::cerr << "troupe-node: log.level or log.format invalid" << std::endl;
    return 2;
  }
  log::info("node", "starting {} with roles [{}]", cfg.node_id,
            fmt::join(cfg.roles, ","));
  log::info("node", "PostgreSQL at {} (password: {})", cfg.pg_url,
            !cfg.pg_password.empty() ? "TROUPE_POSTGRES_PASSWORD"
            : std::getenv("PGPASSWORD")
              ? "PGPASSWORD"
              : "none given; libpq may use PGPASSFILE");
  if (secrets::redact(cfg.pg_url) != cfg.pg_url)
    log::warn("node", "postgres.url carries a password: pass it in "
                      "TROUPE_POSTGRES_PASSWORD instead");
  raise_fd_limit(cfg.max_connections);

  // Migrations first; PostgreSQL may still be coming up.
  for (int attempt = 1;; ++attempt) {
    try {
      auto n = apply_migrations(cfg.pg_url);
      log::info("node", "schema at version {} ({} applied now)",
                latest_migration(), n);
      break;
    } catch (const std::exception& e) {
      if (attempt >= 30) {
        log::error("node", "cannot apply migrations: {}", e.what());
        return 1;
      }
      log::warn("node", "waiting for PostgreSQL ({})", e.what());
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }

  kafka_settings kafka;
  kafka.brokers = cfg.kafka_brokers;
  kafka.group_prefix = cfg.group_prefix;
  kafka.fetch_wait_max_ms = cfg.fetch_wait_max_ms;
  kafka.session_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
    cfg.session_timeout);
  kafka.security_protocol = cfg.security_protocol;
  kafka.sasl_mechanism = cfg.sasl_mechanism;
  kafka.sasl_username = cfg.sasl_username;
  kafka.sasl_password = cfg.sasl_password;
  kafka.ssl_ca_location = cfg.ssl_ca_location;
  kafka.client_id = "troupe-" + cfg.node_id;

  // Restarts of supervised actors back off like retries of failed work.
  auto retry = cfg.retry_for("");

  int exit_code = 0;
  {
    caf::actor_system sys{cfg};
    std::vector<caf::actor> to_stop; // in shutdown order

    auto own = std::make_shared<ownership>();
    std::shared_ptr<partition_fence> fence;
    if (cfg.has_role("orchestrator"))
      fence = std::make_shared<partition_fence>(cfg.pg_url, cfg.node_id,
                                                [own](const std::string& id) {
                                                  return own->partition_of(id);
                                                });
    auto queries = std::make_shared<order_queries>(cfg.pg_url, 8);
    auto probe = std::make_shared<readiness_probe>(queries, kafka);

    // Every service and adapter actor runs under a supervisor that restarts
    // it with backoff. Others hold the supervisor's handle, which forwards to
    // the current incarnation and stays valid across restarts.
    auto supervised = [&](std::string name,
                          std::function<caf::actor(caf::actor_system&)> start) {
      supervisor_config c;
      c.backoff = retry;
      c.forward_to = name;
      c.on_health = [probe, name](bool healthy, const std::string& why) {
        probe->supervision(name, healthy, why);
      };
      child_spec spec{name, [start](caf::local_actor* parent) {
                        return start(parent->system());
                      }};
      return caf::actor_cast<caf::actor>(
        sys.spawn(supervisor, std::vector<child_spec>{std::move(spec)}, c));
    };

    pg_settings pg;
    pg.fence = fence;
    pg.url = cfg.pg_url;
    pg.pool_size = cfg.pg_pool_size;
    pg.max_batch = cfg.pg_max_batch;
    pg.node_id = cfg.node_id;
    auto pg_store = supervised("postgres store", [pg](caf::actor_system& s) {
      return spawn_pg_store(s, pg);
    });
    auto store = as_store(pg_store);

    // Dead letters that PostgreSQL refuses go straight to Kafka.
    auto dlq_direct = sys.spawn<caf::detached>(dead_letter_producer, kafka);
    auto base_consumer = [&](std::string name) {
      consumer_config c;
      c.name = std::move(name);
      c.kafka = kafka;
      c.dead_letters = caf::actor_cast<dead_letter_actor>(pg_store);
      c.dead_letter_fallback = dlq_direct;
      c.retry = cfg.retry_for(c.name);
      c.max_in_flight = static_cast<size_t>(cfg.max_in_flight);
      return c;
    };
    // The I/O actors (consumers, relay) share one supervisor.
    std::vector<child_spec> io_children;
    std::vector<caf::actor> services;
    auto start_consumer = [&](consumer_config c) {
      auto name = "consumer " + c.name;
      io_children.push_back(child_spec{
        name, [c](caf::local_actor* parent) {
          return parent->system().spawn<caf::detached>(kafka_consumer, c);
        }});
    };

    // Roles as data: a service role is a supervised service actor and the
    // consumer that feeds it the role's topics.
    struct service_role {
      const char* name;
      std::vector<const char*> topics;
      std::function<caf::actor(caf::actor_system&)> spawn;
    };
    auto stock = cfg.default_stock;
    const std::vector<service_role> service_roles{
      {"payment",
       {events::order_created, events::payment_refund},
       spawner(payment_service, store)},
      {"inventory",
       {events::order_created, events::inventory_release},
       spawner(inventory_service, store, stock)},
      {"notification",
       {events::status_changed},
       spawner(notification_service, store)},
      {"analytics", {events::order_created}, spawner(analytics_service, store)},
    };
    for (auto& role : service_roles) {
      if (!cfg.has_role(role.name))
        continue;
      auto svc = supervised(role.name, role.spawn);
      services.push_back(svc);
      auto c = base_consumer(role.name);
      for (auto topic : role.topics)
        c.routes.emplace(topic, svc);
      start_consumer(std::move(c));
    }
    std::shared_ptr<partition_claimer> claimer;
    if (cfg.has_role("orchestrator")) {
      // One try now; if Kafka does not answer, the readiness probe learns
      // the partition count as soon as it does (below).
      own->partitions = probe->partitions(events::payment_result);
      if (own->partitions == 0)
        log::warn("node",
                  "cannot read the partitions of {} yet; sagas are "
                  "rehydrated once Kafka answers",
                  events::payment_result);
      saga_router_config rc;
      rc.sweep_interval = std::chrono::duration_cast<std::chrono::milliseconds>(
        cfg.sweep_interval);
      rc.owns = [own](const std::string& id) { return own->owns(id); };
      rc.partition_of = [own](const std::string& id) {
        return own->partition_of(id);
      };
      // A restarted router rehydrates the open sagas of its partitions.
      auto router_actor = supervised("saga router",
                                     spawner(saga_router, store, rc, true));
      auto router = caf::actor_cast<saga_router_actor>(router_actor);
      services.push_back(router_actor);
      auto c = base_consumer("orchestrator");
      c.routes = {{events::payment_result, router_actor},
                  {events::inventory_result, router_actor}};
      // Claims run on the claimer's thread with backoff until they succeed;
      // the sagas of claimed partitions are rehydrated then.
      partition_claimer::settings ps;
      ps.base = retry.base;
      ps.cap = std::min(retry.cap, std::chrono::milliseconds{2000});
      claimer = std::make_shared<partition_claimer>(
        fence, cfg.pg_url, ps, [router](const std::vector<int32_t>&) {
          caf::anon_send(router, rehydrate_atom::value);
        });
      probe->require([fence] { return fence->not_ready_reason(); });
      probe->require([own]() -> std::string {
        if (own->partitions > 0)
          return "";
        return std::string{"orchestrator: partitions of "}
               + events::payment_result + " not known yet";
      });
      probe->on_kafka_answer([own, router](readiness_probe& p) {
        if (own->partitions > 0)
          return;
        auto n = p.partitions(events::payment_result);
        if (n <= 0)
          return;
        own->partitions = n;
        log::info("node", "{} has {} partitions: rehydrating sagas",
                  events::payment_result, n);
        caf::anon_send(router, rehydrate_atom::value);
      });
      // Runs on the consumer's thread inside librdkafka's rebalance
      // callback: records the assignment and returns; the claimer claims.
      // Until then saga writes for these partitions get a retryable error.
      c.on_assigned = [own, fence, claimer](const std::vector<int32_t>& parts) {
        fence->assign(parts);
        {
          std::lock_guard<std::mutex> guard{own->mtx};
          own->owned.insert(parts.begin(), parts.end());
        }
        claimer->wake();
      };
      c.on_revoked = [own, router, fence](const std::vector<int32_t>& parts) {
        fence->release(parts);
        {
          std::lock_guard<std::mutex> guard{own->mtx};
          for (auto p : parts)
            own->owned.erase(p);
        }
        caf::anon_send(router, revoke_atom::value, parts);
      };
      start_consumer(std::move(c));
    }

    relay_config relay;
    relay.pg_url = cfg.pg_url;
    relay.kafka = kafka;
    io_children.push_back(child_spec{
      "outbox relay", [relay](caf::local_actor* parent) {
        return parent->system().spawn<caf::detached>(outbox_relay, relay);
      }});
    // Retention on every node; the advisory lock lets one run at a time.
    retention_settings rs;
    rs.url = cfg.pg_url;
    auto secs = [](caf::timespan t) {
      return std::chrono::duration_cast<std::chrono::seconds>(t);
    };
    rs.processed_events = secs(cfg.retention_processed_events);
    rs.timeline = secs(cfg.retention_timeline);
    rs.dead_letters = secs(cfg.retention_dead_letters);
    rs.outbox_published = secs(cfg.retention_outbox_published);
    rs.batch = cfg.retention_batch;
    rs.pause = std::chrono::duration_cast<std::chrono::milliseconds>(
      cfg.retention_pause);
    rs.interval = std::chrono::duration_cast<std::chrono::milliseconds>(
      cfg.retention_interval);
    io_children.push_back(
      child_spec{"retention", [rs](caf::local_actor* parent) {
                   return parent->system().spawn<caf::detached>(retention, rs);
                 }});
    supervisor_config sc;
    sc.backoff = retry;
    sc.on_health = [probe](bool healthy, const std::string& why) {
      probe->supervision("io", healthy, why);
    };
    auto io_supervisor = sys.spawn(supervisor, io_children, sc);

    std::unique_ptr<http_api> api;
    if (cfg.has_role("api")) {
      http_settings hs;
      hs.host = cfg.http_host;
      hs.port = cfg.http_port;
      hs.cors_origin = cfg.cors_origin;
      hs.threads = cfg.http_threads;
      hs.max_body_bytes = cfg.max_body_bytes;
      hs.max_connections = cfg.max_connections;
      hs.read_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        cfg.read_timeout);
      hs.idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        cfg.idle_timeout);
      hs.max_header_bytes = cfg.max_header_bytes;
      hs.admin = access_policy{cfg.admin_token, cfg.admin_open};
      hs.metrics = access_policy{cfg.metrics_token, true};
      hs.static_dir = cfg.static_dir;
      hs.deadline
        = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.deadline);
      api = std::make_unique<http_api>(sys, hs, pg_store, queries,
                                       [probe](std::string& why) {
                                         return probe->ready(why);
                                       });
      if (auto err = api->start(); !err.empty()) {
        log::error("node", "HTTP: {}", err);
        exit_code = 1;
      } else {
        log::info("node",
                  "HTTP API on http://{}:{} (at most {} connections, "
                  "read timeout {} ms, idle timeout {} ms, headers "
                  "at most {} bytes)",
                  cfg.http_host, api->port(), hs.max_connections,
                  hs.read_timeout.count(), hs.idle_timeout.count(),
                  hs.max_header_bytes);
        if (!cfg.admin_token.empty())
          log::info("node", "operator endpoints (/admin/*): token required "
                            "(TROUPE_HTTP_ADMIN_TOKEN)");
        else if (cfg.admin_open)
          log::warn("node", "operator endpoints (/admin/*): open to anyone "
                            "(http.admin-open=true; development only)");
        else
          log::info("node", "operator endpoints (/admin/*): closed, 403 "
                            "(no TROUPE_HTTP_ADMIN_TOKEN)");
        log::info("node", "/metrics: {}",
                  cfg.metrics_token.empty()
                    ? "public"
                    : "token required (TROUPE_HTTP_METRICS_TOKEN)");
        log::info("node", "cross-origin callers: {}",
                  cfg.cors_origin.empty() ? "none" : cfg.cors_origin);
      }
    }
    log::info("node", "kafka bootstrap {}", kafka.brokers);

    if (exit_code == 0) {
      auto sig = wait_for_signal();
      log::info("node", "{} received: draining",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    probe->not_ready_because("shutting down");
    if (api) {
      api->drain();
      api->stop(); // in-flight handlers finish first
    }
    caf::anon_send_exit(io_supervisor, caf::exit_reason::user_shutdown);
    for (auto& s : services)
      caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(pg_store, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(dlq_direct, caf::exit_reason::user_shutdown);
    sys.await_all_actors_done();
    claimer.reset();
    probe.reset();
    log::info("node", "stopped");
  }
  spdlog::shutdown();
  return exit_code;
}
