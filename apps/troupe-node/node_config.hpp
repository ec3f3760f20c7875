// The node's configuration: CAF's config (INI file, then TROUPE_* environment
// variables, then command-line flags; later wins) plus Troupe's own layer, one
// declarative table of options (`node_options`). Each entry says where the
// value lives, its default, its allowed values, its environment variable and
// its description; the CAF declarations, the checks of the file, the
// environment and the flags, and `--help` are all generated from it.
// CAF 0.17 silently ignores unknown keys and values of the wrong type, so the
// file is validated here and the node refuses to start, naming the key.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/config_option_set.hpp>
#include <caf/timespan.hpp>

#include "runtime/backoff.hpp"

namespace troupe {

const std::vector<std::string>& all_roles();

/// The environment variable of a key, by one rule: `TROUPE_`, then the key
/// in upper case with every '.' and '-' as '_'. `http.port` is
/// TROUPE_HTTP_PORT, `retry.payment-max-attempts` is
/// TROUPE_RETRY_PAYMENT_MAX_ATTEMPTS.
std::string env_name(const std::string& key);

class node_config;

/// One entry of the option table. Built by the helpers in node_config.cpp;
/// the operations take the configuration they act on, so one table serves
/// every node_config.
struct option_spec {
  std::string key;         ///< "section.name", e.g. "http.port"
  std::string type;        ///< CAF's name of the type: int32, timespan, ...
  std::string fallback;    ///< the default, spelled as in the INI file
  std::string range;       ///< allowed values in words; empty: any
  std::string description; ///< one line for --help
  std::string env;         ///< env_name(key)
  /// From the environment only, never from the file or a flag (tokens,
  /// passwords): not declared to CAF, refused in the file and as a flag.
  bool secret = false;

  /// Stores the default.
  std::function<void(node_config&)> reset;
  /// Declares the option to CAF, bound to its field (not for secrets).
  std::function<void(node_config&, caf::config_option_set&)> declare;
  /// Stores a value read from the environment (secrets only).
  std::function<void(node_config&, const std::string&)> assign;
  /// "" when the value is allowed, otherwise the message, naming the key
  /// (or, for a secret, its environment variable).
  std::function<std::string(const node_config&)> violation;

  std::string section() const {
    return key.substr(0, key.find('.'));
  }
  std::string name() const {
    return key.substr(key.find('.') + 1);
  }
};

/// Troupe's options, in the order --help lists them.
const std::vector<option_spec>& node_options();

/// The entry of `key`, or null.
const option_spec* find_option(const std::string& key);

/// Values live in plain members; their defaults are in `node_options()`.
class node_config : public caf::actor_system_config {
public:
  std::string node_id;
  std::vector<std::string> roles;

  /// "kafka-postgres" (the engine as deployed) or "memory" (the in-memory
  /// event bus: the same actors on sim's bus and store, one node, state
  /// lost at exit).
  std::string engine_mode;
  int32_t memory_partitions = 0; ///< of each topic of the in-memory bus

  /// Whether the node runs on the in-memory event bus.
  bool memory_mode() const {
    return engine_mode == "memory";
  }

  std::string http_host;
  int32_t http_port = 0;
  std::string cors_origin; ///< empty: no cross-origin callers
  int32_t http_threads = 0;
  int64_t max_body_bytes = 0;
  int32_t max_connections = 0;
  caf::timespan read_timeout{0};
  caf::timespan idle_timeout{0};
  int64_t max_header_bytes = 0;
  bool admin_open = false;
  std::string static_dir;

  /// Secrets, from the environment only (never from the file or a flag):
  /// TROUPE_HTTP_ADMIN_TOKEN, TROUPE_HTTP_METRICS_TOKEN,
  /// TROUPE_POSTGRES_PASSWORD (libpq also reads PGPASSWORD and PGPASSFILE
  /// by itself).
  std::string admin_token;
  std::string metrics_token;
  std::string pg_password;

  std::string pg_url;
  int32_t pg_pool_size = 0;
  int32_t pg_max_batch = 0;

  std::string kafka_brokers;
  std::string bootstrap_file;
  std::string group_prefix;
  int32_t fetch_wait_max_ms = 0;
  caf::timespan session_timeout{0};
  std::string security_protocol;
  std::string sasl_mechanism;
  std::string sasl_username;
  std::string sasl_password;
  std::string ssl_ca_location;
  int32_t max_in_flight = 0;

  caf::timespan deadline{0};
  int64_t saga_max_in_flight = 0;
  caf::timespan sweep_interval{0};
  caf::timespan passivate_after{0}; ///< 0: never

  int64_t default_stock = 0;

  std::string intake_topic;

  /// Ages after which retention deletes rows (0: keep forever); see
  /// adapters/postgres/retention.hpp.
  caf::timespan retention_processed_events{0};
  caf::timespan retention_timeline{0};
  caf::timespan retention_dead_letters{0};
  caf::timespan retention_outbox_published{0};
  int32_t retention_batch = 0;
  caf::timespan retention_pause{0};
  caf::timespan retention_interval{0};

  int32_t retry_max_attempts = 0;
  caf::timespan retry_base{0};
  caf::timespan retry_cap{0};
  double retry_factor = 0;
  double retry_jitter = 0;

  /// Per-step overrides of the retry policy (`retry.<step>-max-attempts`,
  /// `-base`, `-cap`, `-factor`); zero means "as `retry.*`".
  struct retry_override {
    int32_t max_attempts = 0;
    caf::timespan base{0};
    caf::timespan cap{0};
    double factor = 0;
  };
  std::map<std::string, retry_override> retry_steps;

  std::string log_level;
  std::string log_format;

  /// OTLP/HTTP collector that receives the spans (empty: none exported).
  std::string otlp_endpoint;

  /// Stores every default and declares the options to CAF.
  node_config();

  node_config(const node_config&) = delete;
  node_config& operator=(const node_config&) = delete;

  /// Parses the file, the environment and `args`. Returns an error message
  /// naming the offending flag or key, or "" on success (also after
  /// printing the help; `cli_helptext_printed` then says so).
  std::string load(int argc, char** argv);

  bool has_role(const std::string& role) const;

  /// The retry policy of one step (a consumer: payment, inventory,
  /// orchestrator, notification, analytics).
  retry_policy retry_for(const std::string& step) const;

  /// Lists Troupe's options from the table: flag, type, default, allowed
  /// values, environment variable and description.
  void print_help(std::ostream& out) const;

private:
  /// A boolean from the environment or a flag, stored after CAF's parse.
  struct late_value {
    const caf::config_option* opt;
    caf::config_value value;
  };

  /// Checks the environment and the flags, and returns them as `--key=value`
  /// arguments for CAF (environment first, so flags win) and booleans to
  /// store after CAF's parse. `file` is the --config-file, if any.
  std::string collect_args(int argc, char** argv,
                           std::vector<std::string>& args,
                           std::vector<late_value>& late, std::string& file);
};

} // namespace troupe
