// The node's option table: environment names follow one rule, the defaults
// it lists are the ones the node runs with and pass its own checks, values
// outside their bounds and unknown keys or flags are refused naming them,
// both flag spellings work, and file < environment < flag.
#define CAF_SUITE node_config
#include "apps/troupe-node/node_config.hpp"

#include <caf/test/unit_test.hpp>

#include <caf/settings.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace troupe;
using namespace std::chrono_literals;

namespace {

const std::string brokers = "--kafka.brokers=127.0.0.1:1";

/// `cfg.load` with `args` after the program name.
std::string load(node_config& cfg, std::vector<std::string> args) {
  std::string prog = "troupe-node";
  std::vector<char*> argv{prog.data()};
  for (auto& a : args)
    argv.push_back(a.data());
  return cfg.load(static_cast<int>(argv.size()), argv.data());
}

/// The message of loading `args` (plus a broker) into a fresh config.
std::string refusal(std::vector<std::string> args) {
  node_config cfg;
  args.push_back(brokers);
  return load(cfg, std::move(args));
}

/// An INI file with `text`, removed when it goes out of scope.
struct ini_file {
  std::string path;
  explicit ini_file(const std::string& text) {
    char name[] = "/tmp/troupe-node-config-XXXXXX";
    int fd = mkstemp(name);
    close(fd);
    path = name;
    std::ofstream{path} << text;
  }
  ~ini_file() {
    std::remove(path.c_str());
  }
};

/// Sets an environment variable for the life of this object.
struct env_var {
  std::string name;
  env_var(std::string n, const std::string& value) : name(std::move(n)) {
    setenv(name.c_str(), value.c_str(), 1);
  }
  ~env_var() {
    unsetenv(name.c_str());
  }
};

} // namespace

CAF_TEST(environment names follow from the key by one rule) {
  CAF_CHECK_EQUAL(env_name("http.port"), "TROUPE_HTTP_PORT");
  CAF_CHECK_EQUAL(env_name("retry.payment-max-attempts"),
                  "TROUPE_RETRY_PAYMENT_MAX_ATTEMPTS");
  CAF_CHECK_EQUAL(env_name("kafka.sasl-password"),
                  "TROUPE_KAFKA_SASL_PASSWORD");
  std::set<std::string> keys;
  for (auto& o : node_options()) {
    CAF_CHECK_EQUAL(o.env, env_name(o.key));
    CAF_CHECK_EQUAL(keys.insert(o.key).second ? o.key : "twice: " + o.key,
                    o.key);
    CAF_CHECK_NOT_EQUAL(o.key.find('.'), std::string::npos);
  }
  // The secrets are in the table, read from their variables only.
  for (auto key :
       {"http.admin-token", "http.metrics-token", "postgres.password"}) {
    auto o = find_option(key);
    CAF_REQUIRE(o != nullptr);
    CAF_CHECK(o->secret);
  }
  CAF_CHECK_EQUAL(find_option("http.admin-token")->env,
                  "TROUPE_HTTP_ADMIN_TOKEN");
  CAF_CHECK(find_option("http.nope") == nullptr);
}

CAF_TEST(the defaults of the table are the node defaults and pass the checks) {
  node_config cfg;
  CAF_CHECK_EQUAL(load(cfg, {brokers}), "");
  CAF_CHECK_EQUAL(cfg.http_port, 8080);
  CAF_CHECK_EQUAL(cfg.http_host, "0.0.0.0");
  CAF_CHECK_EQUAL(cfg.max_body_bytes, 65536);
  CAF_CHECK(cfg.read_timeout == caf::timespan{10s});
  CAF_CHECK(cfg.retention_processed_events == caf::timespan{168h});
  CAF_CHECK_EQUAL(cfg.retry_factor, 2.0);
  CAF_CHECK_EQUAL(cfg.roles, all_roles());
  CAF_CHECK_EQUAL(cfg.pg_url, "postgresql://troupe@127.0.0.1:55432/troupe");
  CAF_CHECK_EQUAL(cfg.log_format, "text");
  CAF_CHECK_EQUAL(cfg.retry_for("payment").max_attempts, 5);
  // Each default as --help spells it is a valid flag value of its key.
  for (auto& o : node_options()) {
    if (o.secret)
      continue;
    CAF_CHECK_EQUAL(o.key + " " + refusal({"--" + o.key + "=" + o.fallback}),
                    o.key + " ");
  }
}

CAF_TEST(values outside their bounds are refused naming key and range) {
  CAF_CHECK_EQUAL(refusal({"--http.port=65536"}),
                  "http.port: must be between 0 and 65535 (got 65536)");
  CAF_CHECK_EQUAL(refusal({"--http.port=-1"}),
                  "http.port: must be between 0 and 65535 (got -1)");
  CAF_CHECK_EQUAL(refusal({"--http.port=65535"}), "");
  CAF_CHECK_EQUAL(refusal({"--http.port=0"}), "");
  CAF_CHECK_EQUAL(refusal({"--kafka.max-in-flight=0"}),
                  "kafka.max-in-flight: must be at least 1 (got 0)");
  CAF_CHECK_EQUAL(refusal({"--retry.jitter=1.5"}),
                  "retry.jitter: must be between 0 and 1 (got 1.5)");
  CAF_CHECK_EQUAL(refusal({"--saga.deadline=0s"}),
                  "saga.deadline: must be greater than 0s (got 0s)");
  CAF_CHECK_EQUAL(refusal({"--http.read-timeout=2h"}),
                  "http.read-timeout: must be between 100ms and 1h (got 2h)");
  CAF_CHECK_EQUAL(refusal({"--retention.processed-events=30min"}),
                  "retention.processed-events: must be 0s (forever) or at "
                  "least 1h (got 30min)");
  CAF_CHECK_EQUAL(refusal({"--retention.processed-events=0s"}), "");
  CAF_CHECK_EQUAL(refusal({"--retry.payment-factor=0"}), "");
  CAF_CHECK_EQUAL(refusal({"--retry.payment-factor=0.5"}),
                  "retry.payment-factor: must be 0 (as retry.*) or between 1 "
                  "and 1000 (got 0.5)");
  CAF_CHECK_EQUAL(refusal({"--log.format=xml"}),
                  "log.format: must be one of text, json (got \"xml\")");
  CAF_CHECK_EQUAL(refusal({R"(--node.roles=["api", "cook"])"}),
                  "node.roles: unknown role 'cook'");
  CAF_CHECK_EQUAL(refusal({"--retry.base=20s"}),
                  "retry.base (20s) must not exceed retry.cap (10s)");
}

CAF_TEST(unknown flags and keys are refused naming them) {
  CAF_CHECK_EQUAL(refusal({"--http.nope=1"}), "unknown flag '--http.nope'");
  CAF_CHECK_EQUAL(refusal({"--http.nope", "1"}), "unknown flag '--http.nope'");
  CAF_CHECK_EQUAL(refusal({"-x"}), "unknown flag '-x'");
  CAF_CHECK_EQUAL(refusal({"stray"}), "unexpected argument 'stray'");
  ini_file unknown{"[http]\nnope=1\n"};
  CAF_CHECK_EQUAL(refusal({"--config-file=" + unknown.path}),
                  "config file '" + unknown.path
                    + "': unknown key 'http.nope'");
  ini_file wrong_type{"[http]\nport=\"eighty\"\n"};
  auto msg = refusal({"--config-file", wrong_type.path});
  CAF_CHECK_EQUAL(msg.substr(0, msg.find(" expects int32") + 14),
                  "config file '" + wrong_type.path
                    + "': key 'http.port' expects int32");
  ini_file out_of_range{"[retry]\njitter=2.0\n"};
  CAF_CHECK_EQUAL(refusal({"--config-file=" + out_of_range.path}),
                  "retry.jitter: must be between 0 and 1 (got 2)");
}

CAF_TEST(flags take their value after = or as the next argument) {
  {
    node_config cfg;
    CAF_CHECK_EQUAL(load(cfg, {brokers, "--http.port", "9090",
                               "--saga.deadline", "5s", "--http.admin-open"}),
                    "");
    CAF_CHECK_EQUAL(cfg.http_port, 9090);
    CAF_CHECK(cfg.deadline == caf::timespan{5s});
    CAF_CHECK(cfg.admin_open);
  }
  {
    node_config cfg;
    CAF_CHECK_EQUAL(load(cfg, {brokers, "--http.port=9091"}), "");
    CAF_CHECK_EQUAL(cfg.http_port, 9091);
  }
  CAF_CHECK_EQUAL(refusal({"--http.port", "70000"}),
                  "http.port: must be between 0 and 65535 (got 70000)");
  CAF_CHECK_EQUAL(refusal({"--http.port=abc"}),
                  "--http.port: expects int32, got 'abc'");
  node_config cfg;
  CAF_CHECK_EQUAL(load(cfg, {brokers, "--http.port"}),
                  "--http.port: missing value (int32)");
}

CAF_TEST(the environment overrides the file and flags override both) {
  ini_file file{"[http]\nport=8000\nthreads=3\n"};
  {
    node_config cfg;
    CAF_CHECK_EQUAL(load(cfg, {brokers, "--config-file=" + file.path}), "");
    CAF_CHECK_EQUAL(cfg.http_port, 8000);
  }
  env_var port{"TROUPE_HTTP_PORT", "9000"};
  {
    node_config cfg;
    CAF_CHECK_EQUAL(load(cfg, {brokers, "--config-file=" + file.path}), "");
    CAF_CHECK_EQUAL(cfg.http_port, 9000);
    CAF_CHECK_EQUAL(cfg.http_threads, 3);
  }
  {
    node_config cfg;
    CAF_CHECK_EQUAL(
      load(cfg, {brokers, "--config-file=" + file.path, "--http.port=9001"}),
      "");
    CAF_CHECK_EQUAL(cfg.http_port, 9001);
  }
  {
    env_var bad{"TROUPE_HTTP_THREADS", "many"};
    CAF_CHECK_EQUAL(refusal({}),
                    "TROUPE_HTTP_THREADS (http.threads): expects int32, got "
                    "'many'");
  }
  env_var high{"TROUPE_HTTP_THREADS", "5000"};
  CAF_CHECK_EQUAL(refusal({}),
                  "http.threads: must be between 1 and 4096 (got 5000)");
}

CAF_TEST(booleans take a value from a flag or the environment) {
  ini_file file{"[http]\nadmin-open=true\n"};
  {
    node_config cfg;
    CAF_CHECK_EQUAL(load(cfg, {brokers, "--config-file=" + file.path,
                               "--http.admin-open=false"}),
                    "");
    CAF_CHECK(!cfg.admin_open);
    CAF_CHECK(!caf::get_or(cfg.content, "http.admin-open", true));
  }
  env_var open{"TROUPE_HTTP_ADMIN_OPEN", "true"};
  {
    node_config cfg;
    CAF_CHECK_EQUAL(load(cfg, {brokers}), "");
    CAF_CHECK(cfg.admin_open);
    CAF_CHECK(caf::get_or(cfg.content, "http.admin-open", false));
  }
  {
    node_config cfg;
    CAF_CHECK_EQUAL(load(cfg, {brokers, "--http.admin-open=false"}), "");
    CAF_CHECK(!cfg.admin_open);
  }
  CAF_CHECK_EQUAL(refusal({"--http.admin-open=maybe"}),
                  "--http.admin-open: expects boolean, got 'maybe'");
}

CAF_TEST(secrets come from the environment only) {
  CAF_CHECK_EQUAL(refusal({"--http.admin-token=0123456789abcdef"}),
                  "http.admin-token: a secret is never read from the command "
                  "line; set TROUPE_HTTP_ADMIN_TOKEN in the environment");
  ini_file file{"[postgres]\npassword=\"hunter2hunter2\"\n"};
  CAF_CHECK_EQUAL(refusal({"--config-file=" + file.path}),
                  "postgres.password: a secret is never read from the config "
                  "file; set TROUPE_POSTGRES_PASSWORD in the environment");
  {
    env_var token{"TROUPE_HTTP_ADMIN_TOKEN", "0123456789abcdef"};
    env_var password{"TROUPE_POSTGRES_PASSWORD", "hunter2"};
    node_config cfg;
    CAF_CHECK_EQUAL(load(cfg, {brokers}), "");
    CAF_CHECK_EQUAL(cfg.admin_token, "0123456789abcdef");
    CAF_CHECK_EQUAL(cfg.pg_password, "hunter2");
  }
  env_var short_token{"TROUPE_HTTP_METRICS_TOKEN", "short"};
  CAF_CHECK_EQUAL(refusal({}), "TROUPE_HTTP_METRICS_TOKEN: a token must have "
                               "at least 16 characters");
}

CAF_TEST(help lists every key with its type default bounds and variable) {
  node_config cfg;
  std::ostringstream out;
  cfg.print_help(out);
  auto help = out.str();
  // "" when `text` is in the help, else `text` (so a failure names it).
  auto missing = [&](const std::string& text) {
    return help.find(text) != std::string::npos ? "" : text;
  };
  for (auto& o : node_options()) {
    CAF_CHECK_EQUAL(missing(o.env), "");
    if (!o.secret)
      CAF_CHECK_EQUAL(missing("--" + o.key + "=<" + o.type + ">"), "");
    else
      CAF_CHECK_EQUAL(missing("--" + o.key), "--" + o.key);
  }
  CAF_CHECK(help.find("default 8080; between 0 and 65535; env TROUPE_HTTP_PORT")
            != std::string::npos);
}

CAF_TEST(the in - memory event bus needs no broker and the mode is checked) {
  node_config kafka;
  CAF_CHECK_EQUAL(load(kafka, {}),
                  "kafka.brokers: must be set (or kafka.bootstrap-file)");
  CAF_CHECK(!kafka.memory_mode());
  node_config memory;
  CAF_CHECK_EQUAL(load(memory, {"--engine.mode=memory"}), "");
  CAF_CHECK(memory.memory_mode());
  CAF_CHECK_EQUAL(memory.memory_partitions, 3);
  env_var mode{"TROUPE_ENGINE_MODE", "memory"};
  node_config from_env;
  CAF_CHECK_EQUAL(load(from_env, {"--engine.memory-partitions=8"}), "");
  CAF_CHECK(from_env.memory_mode());
  CAF_CHECK_EQUAL(from_env.memory_partitions, 8);
  CAF_CHECK_EQUAL(refusal({"--engine.mode=kafka"}),
                  "engine.mode: must be one of kafka-postgres, memory (got "
                  "\"kafka\")");
}
