// The node's option table, and the declarations, checks and help generated
// from it.
#include "apps/troupe-node/node_config.hpp"
#include "observability/tracing.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <type_traits>
#include <unistd.h>

#include <caf/config_option_adder.hpp>
#include <caf/config_value.hpp>
#include <caf/settings.hpp>

#include "actors/topics.hpp"

namespace troupe {

namespace {

// -- values as the INI file spells them ---------------------------------------

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

std::string show(bool x) {
  return x ? "true" : "false";
}

/// A duration in its largest exact unit: 0s, 250ms, 10s, 1min, 24h.
std::string show(caf::timespan x) {
  auto ns = x.count();
  if (ns == 0)
    return "0s";
  constexpr int64_t s = 1000000000;
  if (ns % (3600 * s) == 0)
    return std::to_string(ns / (3600 * s)) + "h";
  if (ns % (60 * s) == 0)
    return std::to_string(ns / (60 * s)) + "min";
  if (ns % s == 0)
    return std::to_string(ns / s) + "s";
  if (ns % 1000000 == 0)
    return std::to_string(ns / 1000000) + "ms";
  if (ns % 1000 == 0)
    return std::to_string(ns / 1000) + "us";
  return std::to_string(ns) + "ns";
}

std::string show(const std::string& x) {
  return "\"" + x + "\"";
}

std::string show(const std::vector<std::string>& xs) {
  std::string result = "[";
  for (auto& x : xs)
    result += (result.size() > 1 ? ", " : "") + show(x);
  return result + "]";
}

std::string join(const std::vector<std::string>& xs) {
  std::string result;
  for (auto& x : xs)
    result += (result.empty() ? "" : ", ") + x;
  return result;
}

// -- allowed values -----------------------------------------------------------

/// The allowed values of an option of type T: words for --help, and the
/// check. `violation` returns "" or what is wrong, without the key.
template <class T>
struct limit {
  std::string words;
  std::function<std::string(const T&)> violation;
};

struct any_value {};

/// A numeric range: `lo <= x` (`lo < x` when `open`), `x <= hi` where given;
/// with `zero_means`, 0 is allowed too and means that. Converted to the
/// option's type where the entry is built, so `between(100ms, 1h)` fits a
/// timespan and `between(1, 64)` an int32.
template <class A, class B = A>
struct bounds {
  A lo;
  std::optional<B> hi;
  bool open = false;
  std::string zero_means;
};

template <class A, class B>
bounds<A, B> between(A lo, B hi) {
  return {lo, hi, false, ""};
}

template <class A>
bounds<A> at_least(A lo) {
  return {lo, std::nullopt, false, ""};
}

template <class A>
bounds<A> greater_than(A lo) {
  return {lo, std::nullopt, true, ""};
}

template <class A, class B>
bounds<A, B> zero_or(std::string meaning, bounds<A, B> b) {
  b.zero_means = std::move(meaning);
  return b;
}

template <class T>
limit<T> to_limit(any_value) {
  return {"", [](const T&) { return std::string{}; }};
}

template <class T>
limit<T> to_limit(limit<T> x) {
  return x;
}

template <class T, class A, class B>
limit<T> to_limit(const bounds<A, B>& b) {
  T lo = T(b.lo);
  std::optional<T> hi;
  if (b.hi)
    hi = T(*b.hi);
  bool open = b.open;
  std::string words;
  if (!b.zero_means.empty())
    words = show(T{}) + " (" + b.zero_means + ") or ";
  if (hi)
    words += "between " + show(lo) + " and " + show(*hi);
  else
    words += (open ? "greater than " : "at least ") + show(lo);
  bool zero_ok = !b.zero_means.empty();
  return {words, [=](const T& x) -> std::string {
            // NaN satisfies no comparison, so it is outside every range.
            bool ok = (zero_ok && x == T{})
                      || ((open ? x > lo : x >= lo) && (!hi || x <= *hi));
            if (ok)
              return "";
            return "must be " + words + " (got " + show(x) + ")";
          }};
}

limit<std::string> one_of(std::vector<std::string> choices) {
  auto words = "one of " + join(choices);
  return {words, [=](const std::string& x) -> std::string {
            if (std::find(choices.begin(), choices.end(), x) != choices.end())
              return "";
            return "must be " + words + " (got " + show(x) + ")";
          }};
}

limit<std::string> not_empty() {
  return {"not empty", [](const std::string& x) -> std::string {
            return x.empty() ? "must be set" : "";
          }};
}

limit<std::vector<std::string>> known_roles() {
  return {"any of " + join(all_roles()),
          [](const std::vector<std::string>& xs) -> std::string {
            for (auto& r : xs)
              if (std::find(all_roles().begin(), all_roles().end(), r)
                  == all_roles().end())
                return "unknown role '" + r + "'";
            return "";
          }};
}

/// A Kafka topic name as Kafka accepts it, other than the engine's own.
limit<std::string> kafka_topic() {
  return {"1 to 249 of [a-zA-Z0-9._-], not one of the engine's topics",
          [](const std::string& x) -> std::string {
            if (x.empty() || x.size() > 249 || x == "." || x == "..")
              return "must be a topic name of 1 to 249 characters (got "
                     + show(x) + ")";
            for (unsigned char c : x)
              if (!std::isalnum(c) && c != '.' && c != '_' && c != '-')
                return "a topic name may hold only [a-zA-Z0-9._-] (got "
                       + show(x) + ")";
            for (auto* t : topics::engine_names)
              if (x == t)
                return "must not be the engine's topic " + show(x);
            return "";
          }};
}

/// A bearer token: none, or at least 16 printable ASCII characters.
limit<std::string> token() {
  return {"none, or at least 16 printable ASCII characters without spaces",
          [](const std::string& x) -> std::string {
            if (x.empty())
              return "";
            if (x.size() < 16)
              return "a token must have at least 16 characters";
            for (unsigned char c : x)
              if (c <= 0x20 || c >= 0x7f)
                return "a token must be printable ASCII without spaces";
            return "";
          }};
}

// -- entries ------------------------------------------------------------------

/// The type of the field a member pointer or an accessor designates.
template <class Field>
using field_type
  = std::decay_t<std::invoke_result_t<const Field&, node_config&>>;

template <class T>
std::string type_name() {
  return caf::select_config_value_access_t<T>::type_name();
}

/// An option read from the file, the environment and the flags. `field` is
/// a member pointer of node_config or a function returning the field.
template <class Field, class Check = any_value>
option_spec option(std::string key, Field field, field_type<Field> fallback,
                   Check check, std::string description) {
  using T = field_type<Field>;
  auto lim = to_limit<T>(check);
  option_spec o;
  o.key = std::move(key);
  o.type = type_name<T>();
  o.fallback = show(fallback);
  o.range = lim.words;
  o.description = std::move(description);
  o.env = env_name(o.key);
  o.reset = [field, fallback](node_config& cfg) {
    std::invoke(field, cfg) = fallback;
  };
  o.declare = [field, section = o.section(), name = o.name(),
               description = o.description](node_config& cfg,
                                            caf::config_option_set& opts) {
    caf::config_option_adder{opts, section}.add(std::invoke(field, cfg), name,
                                                description);
  };
  o.violation = [field, key = o.key,
                 why = lim.violation](const node_config& cfg) -> std::string {
    // Accessors take a mutable config (a retry step's entry is reached
    // through the map's operator[]); the entry exists since `reset`, so
    // reading through one changes nothing.
    auto& self = const_cast<node_config&>(cfg);
    auto problem = why(std::invoke(field, self));
    return problem.empty() ? "" : key + ": " + problem;
  };
  return o;
}

template <class Field>
option_spec option(std::string key, Field field, field_type<Field> fallback,
                   std::string description) {
  return option(std::move(key), field, std::move(fallback), any_value{},
                std::move(description));
}

/// A secret: from its environment variable only; a problem with its value
/// names the variable (the only place it can come from).
option_spec secret(std::string key, std::string node_config::*field,
                   limit<std::string> lim, std::string description) {
  option_spec o;
  o.key = std::move(key);
  o.type = type_name<std::string>();
  o.fallback = "(none)";
  o.range = lim.words;
  o.description = std::move(description);
  o.env = env_name(o.key);
  o.secret = true;
  o.reset = [field](node_config& cfg) { (cfg.*field).clear(); };
  o.declare = [](node_config&, caf::config_option_set&) {};
  o.assign = [field](node_config& cfg, const std::string& value) {
    cfg.*field = value;
  };
  o.violation = [field, env = o.env,
                 why = lim.violation](const node_config& cfg) -> std::string {
    auto problem = why(cfg.*field);
    return problem.empty() ? "" : env + ": " + problem;
  };
  return o;
}

std::string default_node_id() {
  char host[256] = "node";
  gethostname(host, sizeof(host) - 1);
  return std::string{host} + "-" + std::to_string(getpid());
}

std::vector<option_spec> make_table() {
  using namespace std::chrono_literals;
  using nc = node_config;
  const caf::timespan zero{0};
  std::vector<option_spec> t{
    option("node.id", &nc::node_id, default_node_id(),
           "name of this node in logs"),
    option("node.roles", &nc::roles, all_roles(), known_roles(),
           "roles to run"),

    option("engine.mode", &nc::engine_mode, "kafka-postgres",
           one_of({"kafka-postgres", "memory"}),
           "kafka-postgres: Kafka and PostgreSQL; memory: the in-memory "
           "event bus (one node, state lost at exit, no kafka.* or "
           "postgres.* needed)"),
    option("engine.memory-partitions", &nc::memory_partitions, 3,
           between(1, 256), "partitions of each topic of the in-memory bus"),

    option("http.host", &nc::http_host, "0.0.0.0",
           "address the HTTP API binds"),
    option("http.port", &nc::http_port, 8080, between(0, 65535),
           "port of the HTTP API"),
    option("http.cors-origin", &nc::cors_origin, "",
           "origin allowed to call from a browser (\"*\": any; empty: none)"),
    option("http.threads", &nc::http_threads, 16, between(1, 4096),
           "worker threads for handlers that wait on the database"),
    option("http.max-body-bytes", &nc::max_body_bytes, 65536,
           between(int64_t{1}, int64_t{1} << 30),
           "largest accepted request body"),
    option("http.max-connections", &nc::max_connections, 1024,
           between(1, 100000),
           "open connections at most; more wait in the backlog"),
    option("http.read-timeout", &nc::read_timeout, 10s, between(100ms, 1h),
           "time to deliver a whole request, headers and body"),
    option("http.idle-timeout", &nc::idle_timeout, 30s, between(100ms, 1h),
           "time a kept-alive connection may idle between requests"),
    option("http.max-header-bytes", &nc::max_header_bytes, 8192,
           between(int64_t{1024}, int64_t{1} << 20),
           "largest request line plus headers (more: 431)"),
    option("http.admin-open", &nc::admin_open, false,
           "without TROUPE_HTTP_ADMIN_TOKEN, open /admin/* to anyone "
           "(development only; otherwise 403)"),
    option("http.static-dir", &nc::static_dir, "",
           "serve files from here at / (web UI)"),
    secret("http.admin-token", &nc::admin_token, token(),
           "bearer token of /admin/* (none: 403, unless http.admin-open)"),
    secret("http.metrics-token", &nc::metrics_token, token(),
           "bearer token of /metrics (none: public)"),

    option("postgres.url", &nc::pg_url,
           "postgresql://troupe@127.0.0.1:55432/troupe", not_empty(),
           "PostgreSQL connection URL"),
    option("postgres.pool-size", &nc::pg_pool_size, 4, between(1, 64),
           "write connections (group-commit shards)"),
    option("postgres.max-batch", &nc::pg_max_batch, 256, between(1, 100000),
           "commands per shared transaction"),
    secret("postgres.password", &nc::pg_password,
           to_limit<std::string>(any_value{}),
           "PostgreSQL password (or libpq's PGPASSWORD, PGPASSFILE)"),

    option("kafka.brokers", &nc::kafka_brokers, "",
           "bootstrap servers, host:port[,...]"),
    option("kafka.bootstrap-file", &nc::bootstrap_file, "",
           "read the bootstrap servers from this file (troupe-broker)"),
    option("kafka.group-prefix", &nc::group_prefix, "troupe",
           "prefix of the consumer group ids"),
    option("kafka.fetch-wait-max-ms", &nc::fetch_wait_max_ms, 10,
           between(0, 300000),
           "longest a fetch waits for data (per hop latency)"),
    option("kafka.session-timeout", &nc::session_timeout, 10s, between(1s, 1h),
           "consumer group session timeout"),
    option("kafka.security-protocol", &nc::security_protocol, "",
           "e.g. SASL_SSL"),
    option("kafka.sasl-mechanism", &nc::sasl_mechanism, "",
           "e.g. SCRAM-SHA-512"),
    option("kafka.sasl-username", &nc::sasl_username, "", "SASL user"),
    option("kafka.sasl-password", &nc::sasl_password, "",
           "SASL password (set it in the environment, not in a file)"),
    option("kafka.ssl-ca-location", &nc::ssl_ca_location, "",
           "CA bundle for TLS"),
    option("kafka.max-in-flight", &nc::max_in_flight, 2000, at_least(1),
           "messages in flight per consumer before it pauses"),

    option("saga.deadline", &nc::deadline, 30s, greater_than(zero),
           "time for both results before a timeout"),
    option("saga.max-in-flight", &nc::saga_max_in_flight, int64_t{10000},
           at_least(int64_t{0}),
           "open orders (cluster-wide) beyond which new ones are refused: "
           "POST /orders answers 503, intake waits (0: no bound)"),
    option("saga.sweep-interval", &nc::sweep_interval, 1s, greater_than(zero),
           "how often deadlines are swept"),
    option("saga.passivate-after", &nc::passivate_after, 10s,
           zero_or("never", at_least(1s)),
           "stop an orchestrator no event reached for this long; its saga "
           "stays open in the store and comes back on its next event or "
           "near its deadline"),

    option("intake.topic", &nc::intake_topic, topics::intake_default,
           kafka_topic(),
           "topic the intake role reads orders from (bad ones go to "
           "<topic>.dlq)"),

    option("inventory.default-stock", &nc::default_stock, 1000000,
           at_least(int64_t{0}), "stock of a SKU not seen before"),

    // Idempotency rows must outlive every redelivery of their event.
    option("retention.processed-events", &nc::retention_processed_events, 168h,
           zero_or("forever", at_least(1h)), "keep idempotency rows this long"),
    option("retention.timeline", &nc::retention_timeline, 720h, at_least(zero),
           "keep the timeline of orders final this long (0s: forever)"),
    option("retention.dead-letters", &nc::retention_dead_letters, 720h,
           at_least(zero), "keep dead letters this long (0s: forever)"),
    option("retention.outbox-published", &nc::retention_outbox_published, 24h,
           at_least(zero),
           "keep published outbox rows this long (0s: forever)"),
    option("retention.batch", &nc::retention_batch, 1000, between(1, 100000),
           "rows per delete"),
    option("retention.pause", &nc::retention_pause, 100ms, at_least(zero),
           "pause between two batches"),
    option("retention.interval", &nc::retention_interval, 1min, at_least(1s),
           "time between two runs"),

    option("retry.max-attempts", &nc::retry_max_attempts, 5, at_least(1),
           "attempts before dead-lettering"),
    option("retry.base", &nc::retry_base, 100ms, at_least(zero),
           "delay before the first retry"),
    option("retry.cap", &nc::retry_cap, 10s, at_least(zero),
           "longest delay between retries"),
    option("retry.factor", &nc::retry_factor, 2.0, between(1.0, 1000.0),
           "growth of the delay per attempt"),
    option("retry.jitter", &nc::retry_jitter, 0.2, between(0.0, 1.0),
           "random spread of each delay"),
  };
  for (auto& step : all_roles()) {
    if (step == "api")
      continue;
    auto key = "retry." + step;
    auto of = [step](auto member) {
      return [ step, member ](node_config & cfg) -> auto& {
        return cfg.retry_steps[step].*member;
      };
    };
    using ro = node_config::retry_override;
    t.push_back(
      option(key + "-max-attempts", of(&ro::max_attempts), 0, at_least(0),
             "attempts of the " + step + " step (0: retry.max-attempts)"));
    t.push_back(
      option(key + "-base", of(&ro::base), zero, at_least(zero),
             "first delay of the " + step + " step (0s: retry.base)"));
    t.push_back(
      option(key + "-cap", of(&ro::cap), zero, at_least(zero),
             "longest delay of the " + step + " step (0s: retry.cap)"));
    t.push_back(option(key + "-factor", of(&ro::factor), 0.0,
                       zero_or("as retry.*", between(1.0, 1000.0)),
                       "growth per attempt of the " + step + " step"));
  }
  t.push_back(option("log.level", &nc::log_level, "info",
                     one_of({"trace", "debug", "info", "warn", "error", "off"}),
                     "least severe level written"));
  t.push_back(option("log.format", &nc::log_format, "text",
                     one_of({"text", "json"}), "one line of text or JSON"));
  t.push_back(
    option("tracing.otlp-endpoint", &nc::otlp_endpoint, "",
           limit<std::string>{"an http:// URL of an OTLP/HTTP collector",
                              [](const std::string& x) {
                                return tracing::check_endpoint(x);
                              }},
           "OTLP/HTTP (JSON) collector receiving the spans, e.g. "
           "http://localhost:4318 (empty: none exported)"));
  // Its default differs per process: --help names the rule.
  t.front().fallback = show(std::string{"<host>-<pid>"});
  return t;
}

} // namespace

std::string env_name(const std::string& key) {
  std::string result = "TROUPE_";
  for (auto c : key)
    result
      += (c == '-' || c == '.')
           ? '_'
           : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return result;
}

const std::vector<option_spec>& node_options() {
  static const std::vector<option_spec> table = make_table();
  return table;
}

const option_spec* find_option(const std::string& key) {
  for (auto& o : node_options())
    if (o.key == key)
      return &o;
  return nullptr;
}

const std::vector<std::string>& all_roles() {
  static const std::vector<std::string> roles{"api",          "intake",
                                              "payment",      "inventory",
                                              "orchestrator", "notification",
                                              "analytics"};
  return roles;
}

node_config::node_config() {
  // Most actors here wait on I/O: a shared queue with a condition variable
  // costs far less CPU than work stealing's polling workers.
  set("scheduler.policy", caf::atom("sharing"));
  for (auto& o : node_options()) {
    o.reset(*this);
    o.declare(*this, custom_options_);
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

/// A secret never sits in a file or in the process list.
std::string secret_refused(const option_spec& o, const std::string& where) {
  return o.key + ": a secret is never read from " + where + "; set " + o.env
         + " in the environment";
}

std::string str(caf::string_view x) {
  return std::string{x.begin(), x.end()};
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
      if (auto o = find_option(full); o != nullptr && o->secret)
        return secret_refused(*o, "the config file");
      auto opt = opts.qualified_name_lookup(section, key);
      if (opt == nullptr)
        return "config file '" + path + "': unknown key '" + full + "'";
      if (auto err = opt->check(val))
        return "config file '" + path + "': key '" + full + "' expects "
               + str(opt->type_name()) + ", got " + caf::to_string(val);
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
    << "usage: troupe-node [--config-file=FILE] [--section.key=value ...]\n"
       "\n"
       "Settings come from the INI file, then environment variables, then\n"
       "command-line flags (later wins). A key's variable is TROUPE_ and the\n"
       "key in upper case with '.' and '-' as '_' (http.port:\n"
       "TROUPE_HTTP_PORT). Flags are --key=value or --key value; a boolean\n"
       "flag alone means true. A usage error exits with code 2.\n";
  std::string section;
  for (auto& o : node_options()) {
    if (o.secret)
      continue;
    if (o.section() != section) {
      section = o.section();
      out << "\n[" << section << "]\n";
    }
    auto flag = "  --" + o.key + "=<" + o.type + ">";
    if (flag.size() < 44)
      flag.resize(44, ' ');
    out << flag << " " << o.description << "\n"
        << "      default " << o.fallback;
    if (!o.range.empty())
      out << "; " << o.range;
    out << "; env " << o.env << "\n";
  }
  out << "\nSecrets come from the environment only (never a file or a flag):\n";
  for (auto& o : node_options()) {
    if (!o.secret)
      continue;
    auto env = "  " + o.env;
    if (env.size() < 30)
      env.resize(30, ' ');
    out << env << " " << o.description;
    if (!o.range.empty())
      out << "; " << o.range;
    out << "\n";
  }
  out << "\nCAF's own options (scheduler, logger, ...): --long-help\n";
}

std::string
node_config::collect_args(int argc, char** argv, std::vector<std::string>& args,
                          std::vector<late_value>& late, std::string& file) {
  // CAF's command line takes a boolean only as a bare `--key` (meaning
  // true): booleans with a value, from a flag or the environment, are stored
  // after CAF has read the file, in the same order, so later still wins.
  auto take = [&](const caf::config_option& opt,
                  const std::string& value) -> std::string {
    // CAF's parse of one value also stores it; `parse` in `load` then
    // stores the file and these arguments again, in their order.
    auto parsed = opt.parse(value);
    if (!parsed)
      return "expects " + str(opt.type_name()) + ", got '" + value + "'";
    if (opt.is_flag())
      late.push_back({&opt, std::move(*parsed)});
    else
      args.push_back("--" + str(opt.full_name()) + "=" + value);
    return "";
  };
  // Environment first, then the command line, so flags win. CAF's own
  // options follow the same naming rule (TROUPE_SCHEDULER_MAX_THREADS).
  for (auto& opt : custom_options_) {
    auto key = str(opt.category()) + "." + str(opt.long_name());
    auto name = env_name(key);
    if (auto val = std::getenv(name.c_str()))
      if (auto why = take(opt, val); !why.empty())
        return name + " (" + key + "): " + why;
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--long-help" || arg == "--dump-config") {
      args.push_back(arg);
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2)
      return (arg.size() > 1 && arg[0] == '-' ? "unknown flag '"
                                              : "unexpected argument '")
             + arg + "'";
    auto eq = arg.find('=');
    auto name = arg.substr(2, eq == std::string::npos ? eq : eq - 2);
    if (auto o = find_option(name); o != nullptr && o->secret)
      return secret_refused(*o, "the command line");
    auto opt = custom_options_.cli_long_name_lookup(name);
    if (opt == nullptr)
      return "unknown flag '--" + name + "'";
    std::string value;
    if (eq != std::string::npos)
      value = arg.substr(eq + 1);
    else if (opt->is_flag())
      value = "true";
    else if (i + 1 < argc)
      value = argv[++i];
    else
      return "--" + name + ": missing value (" + str(opt->type_name()) + ")";
    if (name == "config-file")
      file = value;
    if (auto why = take(*opt, value); !why.empty())
      return "--" + name + ": " + why;
  }
  return "";
}

std::string node_config::load(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-?") {
      print_help(std::cout);
      cli_helptext_printed = true;
      return "";
    }
  }
  std::vector<std::string> args;
  std::vector<late_value> late;
  std::string file;
  if (auto err = collect_args(argc, argv, args, late, file); !err.empty())
    return err;
  if (!file.empty())
    if (auto err = validate_file(file, custom_options_); !err.empty())
      return err;
  if (auto err = parse(args, file.empty() ? nullptr : file.c_str()))
    return "invalid command line or environment: " + render(err);
  for (auto& [opt, value] : late) {
    opt->store(value);
    caf::put(content, opt->full_name(), value);
  }
  if (!remainder.empty())
    return "unexpected argument '" + remainder.front() + "'";
  if (cli_helptext_printed)
    return "";
  for (auto& o : node_options()) {
    if (!o.secret)
      continue;
    auto value = std::getenv(o.env.c_str());
    o.assign(*this, value != nullptr ? value : "");
  }
  for (auto& o : node_options())
    if (auto why = o.violation(*this); !why.empty())
      return why;
  if (retry_base > retry_cap)
    return "retry.base (" + show(retry_base) + ") must not exceed retry.cap ("
           + show(retry_cap) + ")";
  for (auto& [step, o] : retry_steps) {
    auto p = retry_for(step);
    if (p.base > p.cap)
      return "retry." + step + "-base (" + show(caf::timespan{p.base})
             + ") must not exceed retry." + step + "-cap ("
             + show(caf::timespan{p.cap})
             + ") (an unset one is retry.base or retry.cap)";
  }
  if (memory_mode())
    return ""; // no broker to find
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
