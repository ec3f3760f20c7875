// troupe-node: the engine. Wires the actors of the roles this node runs.
//
//   [http api] ─▶ [store] ◀─ [payment] ◀─ consumer(order.created, payment.refund)
//                     ▲ ▲      ◀─ [inventory] ◀─ consumer(order.created, inventory.release)
//                     │ └───── ◀─ [saga router] ─▶ orchestrators ◀─ consumer(*.result)
//                     │        ◀─ [notification] ◀─ consumer(order.status.changed)
//                     │        ◀─ [analytics] ◀─ consumer(order.created)
//   [outbox relay] ───┘ (claims outbox rows, produces them to Kafka)
//
// The composition root: this file, the role table (roles.hpp) and the
// engine's mode (engine.hpp: Kafka and PostgreSQL, or the in-memory event
// bus) decide which actors run detached (blocking I/O) and who owns whom;
// what each adapter is configured with comes from settings.hpp. Readiness is an actor
// (runtime/readiness.hpp) fed by the supervisors and a prober.
// SIGINT/SIGTERM drain the node: HTTP answers 503, consumers commit and
// leave their groups, the relay flushes, then the process exits 0.
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include <sys/resource.h>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "adapters/http/http_api.hpp"
#include "adapters/postgres/migrations.hpp"
#include "apps/troupe-node/engine.hpp"
#include "apps/troupe-node/node_config.hpp"
#include "apps/troupe-node/roles.hpp"
#include "apps/troupe-node/settings.hpp"
#include "base/secrets.hpp"
#include "cli/cli.hpp"
#include "observability/log.hpp"
#include "observability/tracing.hpp"
#include "runtime/readiness.hpp"
#include "runtime/supervisor.hpp"

using namespace troupe;

namespace {

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

/// Where the HTTP API listens and who may use what.
void log_http(const node_config& cfg, const http_settings& hs, int port) {
  log::info("node",
            "HTTP API on http://{}:{} (at most {} connections, read timeout "
            "{} ms, idle timeout {} ms, headers at most {} bytes)",
            cfg.http_host, port, hs.max_connections, hs.read_timeout.count(),
            hs.idle_timeout.count(), hs.max_header_bytes);
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
    return cli::usage_error("troupe-node", secrets::redact(err));
  }
  protect_secrets(cfg);
  if (cfg.cli_helptext_printed)
    return 0;
  if (!log::init(cfg.node_id, cfg.log_level, cfg.log_format)) {
    return cli::usage_error("troupe-node", "log.level or log.format invalid");
  }
  log::info("node", "starting {} with roles [{}]", cfg.node_id,
            fmt::join(cfg.roles, ","));
  if (cfg.memory_mode()) {
    log::warn("node", "engine.mode=memory: the in-memory event bus. Orders, "
                      "events and offsets live in this process only and are "
                      "lost at exit; one node only (scale-out needs a shared "
                      "broker and database: engine.mode=kafka-postgres)");
  } else {
    log::info("node", "PostgreSQL at {} (password: {})", cfg.pg_url,
              !cfg.pg_password.empty() ? "TROUPE_POSTGRES_PASSWORD"
              : std::getenv("PGPASSWORD")
                ? "PGPASSWORD"
                : "none given; libpq may use PGPASSFILE");
    if (secrets::redact(cfg.pg_url) != cfg.pg_url)
      log::warn("node", "postgres.url carries a password: pass it in "
                        "TROUPE_POSTGRES_PASSWORD instead");
  }
  raise_fd_limit(cfg.max_connections);
  if (!cfg.otlp_endpoint.empty()) {
    tracing::exporter_config tc;
    tc.endpoint = cfg.otlp_endpoint;
    tc.instance = cfg.node_id;
    tracing::start_exporter(tc);
    log::info("node", "exporting spans to {} (OTLP/HTTP, JSON)",
              cfg.otlp_endpoint);
  }

  // Migrations first; PostgreSQL may still be coming up.
  for (int attempt = 1; !cfg.memory_mode(); ++attempt) {
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

  int exit_code = 0;
  {
    caf::actor_system sys{cfg};
    auto view = std::make_shared<readiness_view>();
    node_context n{sys, cfg};
    n.retry = cfg.retry_for("");
    n.readiness = sys.spawn(readiness, view);
    n.own = std::make_shared<partition_ownership>();
    // The store, the admission gate, the partition count, fencing and the
    // readiness checks of the infrastructure.
    auto e = cfg.memory_mode() ? memory_engine(n) : kafka_postgres_engine(n);

    // The I/O actors (consumers, relay, retention) share one supervisor.
    std::vector<child_spec> io_children;
    for (auto& role : consumer_roles()) {
      if (!cfg.has_role(role.name))
        continue;
      consumer_wiring w;
      role.wire(n, w);
      io_children.push_back(e.consumer(role.name, std::move(w)));
    }
    io_children.insert(io_children.end(), e.io.begin(), e.io.end());
    supervisor_config sc;
    sc.backoff = n.retry;
    sc.on_health = report_health(n.readiness, "io");
    auto io_supervisor = sys.spawn(supervisor, io_children, sc);
    for (auto& check : n.checks)
      caf::anon_send(n.readiness, require_atom::value, check.source);
    auto prober = sys.spawn<caf::detached>(
      readiness_prober, n.readiness, n.checks, std::chrono::milliseconds{1000});

    std::unique_ptr<http_api> api;
    if (cfg.has_role("api")) {
      auto hs = http_settings_of(cfg);
      hs.admission = n.admission;
      api = std::make_unique<http_api>(sys, hs, n.store, e.reads,
                                       [view](std::string& why) {
                                         return view->ready(why);
                                       });
      if (auto err = api->start(); !err.empty()) {
        log::error("node", "HTTP: {}", err);
        exit_code = 1;
      } else {
        log_http(cfg, hs, api->port());
      }
    }
    log::info("node", "running on {}", e.where);

    if (exit_code == 0) {
      caf::anon_send(n.readiness, health_atom::value, std::string{"node"}, true,
                     std::string{});
      auto sig = wait_for_signal();
      log::info("node", "{} received: draining",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    caf::anon_send(n.readiness, health_atom::value, std::string{"node"}, false,
                   std::string{"shutting down"});
    if (api) {
      api->drain();
      api->stop(); // in-flight handlers finish first
    }
    caf::anon_send_exit(prober, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(io_supervisor, caf::exit_reason::user_shutdown);
    // Handlers before the store they write to.
    for (auto h = n.handlers.rbegin(); h != n.handlers.rend(); ++h)
      caf::anon_send_exit(*h, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(e.dead_letter_fallback,
                        caf::exit_reason::user_shutdown);
    caf::anon_send_exit(n.readiness, caf::exit_reason::user_shutdown);
    sys.await_all_actors_done();
    n.keep.clear();
    log::info("node", "stopped");
  }
  tracing::stop_exporter();
  spdlog::shutdown();
  return exit_code;
}
