// Option declarations and validation of the node's configuration.
#include "apps/troupe-node/node_config.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <unistd.h>

#include <caf/config_option_adder.hpp>
#include <caf/config_value.hpp>
#include <caf/settings.hpp>

extern char** environ;

namespace troupe {

namespace {

std::string show(int32_t x) {
  return std::to_string(x);
}

std::string show(int64_t x) {
  return std::to_string(x);
}

std::string show(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

/// A duration as the config would spell it: 250ms, 10s, 0s.
std::string show(caf::timespan x) {
  using namespace std::chrono;
  auto ns = x.count();
  if (ns % 1000000000 == 0)
    return std::to_string(ns / 1000000000) + "s";
  if (ns % 1000000 == 0)
    return std::to_string(ns / 1000000) + "ms";
  if (ns % 1000 == 0)
    return std::to_string(ns / 1000) + "us";
  return std::to_string(ns) + "ns";
}

/// `lo <= value` (or `lo < value` when `open`) and `value <= hi` if given.
template <class T>
node_config::option_bound
bound(std::string key, const T& value, T lo, std::optional<T> hi, bool open) {
  return {key, [key, &value, lo, hi, open]() -> std::string {
            auto x = value;
            bool ok = (open ? x > lo : x >= lo) && (!hi || x <= *hi);
            if (ok)
              return "";
            std::string range;
            if (hi)
              range = "between " + show(lo) + " and " + show(*hi);
            else
              range = (open ? "greater than " : "at least ") + show(lo);
            return key + ": must be " + range + " (got " + show(x) + ")";
          }};
}

template <class T>
node_config::option_bound at_least(std::string key, const T& value, T lo) {
  return bound<T>(std::move(key), value, lo, std::nullopt, false);
}

template <class T>
node_config::option_bound between(std::string key, const T& value, T lo, T hi) {
  return bound<T>(std::move(key), value, lo, hi, false);
}

template <class T>
node_config::option_bound positive(std::string key, const T& value) {
  return bound<T>(std::move(key), value, T{0}, std::nullopt, true);
}

/// Per-step overrides: 0 means "as retry.*", otherwise in [lo, hi]. NaN
/// satisfies no comparison, so it is outside every range.
node_config::option_bound zero_or_between(std::string key, const double& value,
                                          double lo, double hi) {
  return {key, [key, &value, lo, hi]() -> std::string {
            if (value == 0 || (value >= lo && value <= hi))
              return "";
            return key + ": must be 0 (as retry.*) or between " + show(lo)
                   + " and " + show(hi) + " (got " + show(value) + ")";
          }};
}

} // namespace

const std::vector<std::string>& all_roles() {
  static const std::vector<std::string> roles{
    "api", "payment", "inventory", "orchestrator", "notification", "analytics"};
  return roles;
}

node_config::node_config() {
  // Most actors here wait on I/O: a shared queue with a condition variable
  // costs far less CPU than work stealing's polling workers.
  set("scheduler.policy", caf::atom("sharing"));
  char host[256] = "node";
  gethostname(host, sizeof(host) - 1);
  node_id = std::string{host} + "-" + std::to_string(getpid());
  opt_group{custom_options_, "node"}
    .add(node_id, "id", "name of this node in logs (default: host-pid)")
    .add(roles, "roles",
         "roles to run: api, payment, inventory, orchestrator, notification, "
         "analytics");
  opt_group{custom_options_, "http"}
    .add(http_host, "host", "address the HTTP API binds")
    .add(http_port, "port", "port of the HTTP API")
    .add(cors_origin, "cors-origin",
         "origin allowed to call from a browser (\"*\": any; default none)")
    .add(http_threads, "threads",
         "worker threads for handlers that wait on the database (16)")
    .add(max_body_bytes, "max-body-bytes", "largest accepted request body")
    .add(max_connections, "max-connections",
         "open connections at most; more wait in the backlog (1024)")
    .add(read_timeout, "read-timeout",
         "time to deliver a whole request, headers and body (10s)")
    .add(idle_timeout, "idle-timeout",
         "time a kept-alive connection may idle between requests (30s)")
    .add(max_header_bytes, "max-header-bytes",
         "largest request line plus headers (8192; more: 431)")
    .add(admin_open, "admin-open",
         "without TROUPE_HTTP_ADMIN_TOKEN, open /admin/* to anyone "
         "(development only; default: 403)")
    .add(static_dir, "static-dir", "serve files from here at / (web UI)");
  opt_group{custom_options_, "postgres"}
    .add(pg_url, "url", "PostgreSQL connection URL")
    .add(pg_pool_size, "pool-size", "write connections (group-commit shards)")
    .add(pg_max_batch, "max-batch", "commands per shared transaction");
  opt_group{custom_options_, "kafka"}
    .add(kafka_brokers, "brokers", "bootstrap servers, host:port[,...]")
    .add(bootstrap_file, "bootstrap-file",
         "read the bootstrap servers from this file (troupe-broker)")
    .add(group_prefix, "group-prefix", "prefix of the consumer group ids")
    .add(fetch_wait_max_ms, "fetch-wait-max-ms",
         "longest a fetch waits for data (per hop latency)")
    .add(session_timeout, "session-timeout", "consumer group session timeout")
    .add(security_protocol, "security-protocol", "e.g. SASL_SSL")
    .add(sasl_mechanism, "sasl-mechanism", "e.g. SCRAM-SHA-512")
    .add(sasl_username, "sasl-username", "SASL user")
    .add(sasl_password, "sasl-password",
         "SASL password (use TROUPE_KAFKA_SASL_PASSWORD)")
    .add(ssl_ca_location, "ssl-ca-location", "CA bundle for TLS")
    .add(max_in_flight, "max-in-flight",
         "messages in flight per consumer before it pauses");
  opt_group{custom_options_, "saga"}
    .add(deadline, "deadline", "time for both results before a timeout")
    .add(sweep_interval, "sweep-interval", "how often deadlines are swept");
  opt_group{custom_options_, "inventory"}.add(default_stock, "default-stock",
                                              "stock of a SKU not seen before");
  opt_group{custom_options_, "retention"}
    .add(retention_processed_events, "processed-events",
         "keep idempotency rows this long (168h; 0s: forever)")
    .add(retention_timeline, "timeline",
         "keep the timeline of orders final this long (720h; 0s: forever)")
    .add(retention_dead_letters, "dead-letters",
         "keep dead letters this long (720h; 0s: forever)")
    .add(retention_outbox_published, "outbox-published",
         "keep published outbox rows this long (24h; 0s: forever)")
    .add(retention_batch, "batch", "rows per delete (1000)")
    .add(retention_pause, "pause", "pause between two batches (100ms)")
    .add(retention_interval, "interval", "time between two runs (1min)");
  opt_group{custom_options_, "retry"}
    .add(retry_max_attempts, "max-attempts", "attempts before dead-lettering")
    .add(retry_base, "base", "delay before the first retry")
    .add(retry_cap, "cap", "longest delay between retries")
    .add(retry_factor, "factor", "growth of the delay per attempt")
    .add(retry_jitter, "jitter", "random spread of each delay (0..1)");
  for (auto& step : all_roles()) {
    if (step == "api")
      continue;
    auto& o = retry_steps[step];
    opt_group{custom_options_, "retry"}
      .add(o.max_attempts, step + "-max-attempts",
           "attempts of the " + step + " step (0: retry.max-attempts)")
      .add(o.base, step + "-base", "first delay of the " + step + " step")
      .add(o.cap, step + "-cap", "longest delay of the " + step + " step")
      .add(o.factor, step + "-factor",
           "growth per attempt of the " + step + " step");
  }
  opt_group{custom_options_, "log"}
    .add(log_level, "level", "trace, debug, info, warn, error")
    .add(log_format, "format", "text or json");
  // Allowed ranges of the numeric options above; `load` refuses to start
  // (exit code 2) on the first value outside, naming key and range.
  using namespace std::chrono_literals;
  const caf::timespan zero{0};
  bounds_ = {
    between<int32_t>("http.port", http_port, 0, 65535),
    between<int32_t>("http.threads", http_threads, 1, 4096),
    between<int64_t>("http.max-body-bytes", max_body_bytes, 1,
                     int64_t{1} << 30),
    between<int32_t>("http.max-connections", max_connections, 1, 100000),
    between<caf::timespan>("http.read-timeout", read_timeout, 100ms, 1h),
    between<caf::timespan>("http.idle-timeout", idle_timeout, 100ms, 1h),
    between<int64_t>("http.max-header-bytes", max_header_bytes, 1024,
                     int64_t{1} << 20),
    between<int32_t>("postgres.pool-size", pg_pool_size, 1, 64),
    between<int32_t>("postgres.max-batch", pg_max_batch, 1, 100000),
    between<int32_t>("kafka.fetch-wait-max-ms", fetch_wait_max_ms, 0, 300000),
    between<caf::timespan>("kafka.session-timeout", session_timeout, 1s, 1h),
    at_least<int32_t>("kafka.max-in-flight", max_in_flight, 1),
    positive<caf::timespan>("saga.deadline", deadline),
    positive<caf::timespan>("saga.sweep-interval", sweep_interval),
    at_least<int64_t>("inventory.default-stock", default_stock, 0),
    at_least<int32_t>("retry.max-attempts", retry_max_attempts, 1),
    at_least<caf::timespan>("retry.base", retry_base, zero),
    at_least<caf::timespan>("retry.cap", retry_cap, zero),
    between<double>("retry.factor", retry_factor, 1.0, 1000.0),
    between<double>("retry.jitter", retry_jitter, 0.0, 1.0),
  };
  for (auto& [step, o] : retry_steps) {
    auto key = "retry." + step;
    bounds_.push_back(
      at_least<int32_t>(key + "-max-attempts", o.max_attempts, 0));
    bounds_.push_back(at_least<caf::timespan>(key + "-base", o.base, zero));
    bounds_.push_back(at_least<caf::timespan>(key + "-cap", o.cap, zero));
    bounds_.push_back(zero_or_between(key + "-factor", o.factor, 1.0, 1000.0));
  }
}

retry_policy node_config::retry_for(const std::string& step) const {
  retry_policy p;
  p.max_attempts = retry_max_attempts;
  p.base = std::chrono::duration_cast<std::chrono::milliseconds>(retry_base);
  p.cap = std::chrono::duration_cast<std::chrono::milliseconds>(retry_cap);
  p.factor = retry_factor;
  p.jitter = retry_jitter;
  auto i = retry_steps.find(step);
  if (i == retry_steps.end())
    return p;
  auto& o = i->second;
  if (o.max_attempts > 0)
    p.max_attempts = o.max_attempts;
  if (o.base.count() > 0)
    p.base = std::chrono::duration_cast<std::chrono::milliseconds>(o.base);
  if (o.cap.count() > 0)
    p.cap = std::chrono::duration_cast<std::chrono::milliseconds>(o.cap);
  if (o.factor > 0)
    p.factor = o.factor;
  return p;
}

bool node_config::has_role(const std::string& role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

namespace {

/// Keys that would hold a secret: refused in the file and as flags, so that
/// a secret never sits in a file or in the process list.
struct secret_key {
  const char* key;
  const char* env;
};
const std::vector<secret_key>& secret_keys() {
  static const std::vector<secret_key> keys{
    {"http.admin-token", "TROUPE_HTTP_ADMIN_TOKEN"},
    {"http.metrics-token", "TROUPE_HTTP_METRICS_TOKEN"},
    {"postgres.password", "TROUPE_POSTGRES_PASSWORD"},
  };
  return keys;
}

std::string secret_refused(const secret_key& k, const std::string& where) {
  return std::string{k.key} + ": a secret is never read from " + where
         + "; set " + k.env + " in the environment";
}

std::string env_name(caf::string_view category, caf::string_view name) {
  std::string result = "TROUPE_";
  for (auto c : category)
    result += (c == '-' || c == '.') ? '_' : static_cast<char>(std::toupper(c));
  result += '_';
  for (auto c : name)
    result += (c == '-' || c == '.') ? '_' : static_cast<char>(std::toupper(c));
  return result;
}

/// Checks every key of the file against the declared options.
std::string validate_file(const std::string& path,
                          const caf::config_option_set& opts) {
  std::ifstream in{path};
  if (!in)
    return "cannot read config file '" + path + "'";
  auto parsed = caf::actor_system_config::parse_config(in);
  if (!parsed)
    return "config file '" + path
           + "' has a syntax error: " + caf::to_string(parsed.error())
           + " (strings need double quotes, lists look like [\"a\", \"b\"])";
  for (auto& [section, value] : *parsed) {
    auto dict = caf::get_if<caf::config_value::dictionary>(&value);
    if (dict == nullptr) {
      return "config file '" + path + "': key '" + section
             + "' must be inside a [section]";
    }
    for (auto& [key, val] : *dict) {
      auto full = section + "." + key;
      for (auto& k : secret_keys())
        if (full == k.key)
          return secret_refused(k, "the config file");
      auto opt = opts.qualified_name_lookup(section, key);
      if (opt == nullptr)
        return "config file '" + path + "': unknown key '" + full + "'";
      if (auto err = opt->check(val))
        return "config file '" + path + "': key '" + full + "' expects "
               + std::string{opt->type_name().begin(), opt->type_name().end()}
               + ", got " + caf::to_string(val);
    }
  }
  return "";
}

std::string read_bootstrap(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  std::getline(in, line);
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
    line.pop_back();
  return line;
}

} // namespace

void node_config::print_help(std::ostream& out) const {
  out
    << "usage: troupe-node --config-file=FILE [--section.key=value ...]\n\n"
       "Settings come from the INI file, then TROUPE_SECTION_KEY environment\n"
       "variables, then command-line flags (later wins). Options:\n";
  static const std::vector<std::string> ours{"node",      "http",  "postgres",
                                             "kafka",     "saga",  "inventory",
                                             "retention", "retry", "log"};
  for (auto& section : ours) {
    out << "\n[" << section << "]\n";
    for (auto& opt : custom_options_) {
      if (opt.category() != section)
        continue;
      std::string flag
        = "  --" + std::string{opt.full_name().begin(), opt.full_name().end()}
          + "=<" + std::string{opt.type_name().begin(), opt.type_name().end()}
          + ">";
      if (flag.size() < 44)
        flag.resize(44, ' ');
      out << flag << " "
          << std::string{opt.description().begin(), opt.description().end()}
          << "\n";
    }
  }
  out << "\nSecrets come from the environment only (never a file or a flag):\n"
         "  TROUPE_POSTGRES_PASSWORD    PostgreSQL password (or libpq's "
         "PGPASSWORD, PGPASSFILE)\n"
         "  TROUPE_KAFKA_SASL_PASSWORD  Kafka SASL password\n"
         "  TROUPE_HTTP_ADMIN_TOKEN     bearer token of /admin/* (none: 403, "
         "unless http.admin-open)\n"
         "  TROUPE_HTTP_METRICS_TOKEN   bearer token of /metrics (none: "
         "public)\n";
  out << "\nCAF's own options (scheduler, logger, ...): --long-help\n";
}

std::string node_config::load(int argc, char** argv) {
  std::vector<std::string> args;
  std::string file;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--config-file=", 0) == 0)
      file = arg.substr(14);
    if (arg == "--help" || arg == "-h" || arg == "-?") {
      print_help(std::cout);
      cli_helptext_printed = true;
      return "";
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    for (auto& k : secret_keys())
      if (arg.rfind("--" + std::string{k.key}, 0) == 0)
        return secret_refused(k, "the command line");
  }
  if (!file.empty())
    if (auto err = validate_file(file, custom_options_); !err.empty())
      return err;
  // Environment first, then the command line, so flags win.
  for (auto& opt : custom_options_) {
    auto name = env_name(opt.category(), opt.long_name());
    if (auto val = std::getenv(name.c_str()))
      args.emplace_back(
        "--" + std::string{opt.full_name().begin(), opt.full_name().end()} + "="
        + val);
  }
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  if (auto err = parse(args, file.empty() ? nullptr : file.c_str()))
    return "invalid command line or environment: " + render(err);
  if (!remainder.empty())
    return "unexpected argument '" + remainder.front() + "'";
  if (cli_helptext_printed)
    return "";
  for (auto& r : roles)
    if (std::find(all_roles().begin(), all_roles().end(), r)
        == all_roles().end())
      return "node.roles: unknown role '" + r + "'";
  if (pg_url.empty())
    return "postgres.url: must be set";
  for (auto& b : bounds_)
    if (auto why = b.violation(); !why.empty())
      return why;
  if (retry_base > retry_cap)
    return "retry.base (" + show(retry_base) + ") must not exceed retry.cap ("
           + show(retry_cap) + ")";
  // Idempotency rows must outlive every redelivery of their event.
  if (retention_processed_events.count() != 0
      && retention_processed_events < std::chrono::hours(1))
    return "retention.processed-events: must be 0s (forever) or at least 1h";
  if (retention_timeline.count() < 0 || retention_dead_letters.count() < 0
      || retention_outbox_published.count() < 0)
    return "retention.timeline/dead-letters/outbox-published: must not be "
           "negative";
  if (retention_batch < 1 || retention_batch > 100000)
    return "retention.batch: must be between 1 and 100000";
  if (retention_pause.count() < 0)
    return "retention.pause: must not be negative";
  if (retention_interval < std::chrono::seconds(1))
    return "retention.interval: must be at least 1s";
  for (auto& [step, o] : retry_steps) {
    auto p = retry_for(step);
    if (p.base > p.cap)
      return "retry." + step + "-base (" + show(caf::timespan{p.base})
             + ") must not exceed retry." + step + "-cap ("
             + show(caf::timespan{p.cap})
             + ") (an unset one is retry.base or retry.cap)";
  }
  auto env = [](const char* name) {
    auto v = std::getenv(name);
    return std::string{v ? v : ""};
  };
  admin_token = env("TROUPE_HTTP_ADMIN_TOKEN");
  metrics_token = env("TROUPE_HTTP_METRICS_TOKEN");
  pg_password = env("TROUPE_POSTGRES_PASSWORD");
  for (auto [name, token] :
       {std::pair{"TROUPE_HTTP_ADMIN_TOKEN", &admin_token},
        std::pair{"TROUPE_HTTP_METRICS_TOKEN", &metrics_token}}) {
    if (token->empty())
      continue;
    if (token->size() < 16)
      return std::string{name} + ": a token must have at least 16 characters";
    for (unsigned char c : *token)
      if (c <= 0x20 || c >= 0x7f)
        return std::string{name}
               + ": a token must be printable ASCII without spaces";
  }
  if (log_format != "text" && log_format != "json")
    return "log.format: must be text or json";
  static const std::vector<std::string> levels{"trace", "debug", "info",
                                               "warn",  "error", "off"};
  if (std::find(levels.begin(), levels.end(), log_level) == levels.end())
    return "log.level: must be one of trace, debug, info, warn, error, off";
  if (kafka_brokers.empty() && !bootstrap_file.empty()) {
    // troupe-broker may still be starting: give it a moment.
    for (int i = 0; i < 100 && kafka_brokers.empty(); ++i) {
      kafka_brokers = read_bootstrap(bootstrap_file);
      if (kafka_brokers.empty())
        usleep(100000);
    }
    if (kafka_brokers.empty())
      return "kafka.bootstrap-file: '" + bootstrap_file
             + "' does not exist or is empty";
  }
  if (kafka_brokers.empty())
    return "kafka.brokers: must be set (or kafka.bootstrap-file)";
  return "";
}

} // namespace troupe
