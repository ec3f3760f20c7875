// The node's configuration: CAF's config (INI file, then TROUPE_* environment
// variables, then command-line flags; later wins) plus Troupe's own checks.
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
#include <caf/timespan.hpp>

#include "runtime/backoff.hpp"

namespace troupe {

const std::vector<std::string>& all_roles();

class node_config : public caf::actor_system_config {
public:
  std::string node_id;
  std::vector<std::string> roles = all_roles();

  std::string http_host = "0.0.0.0";
  int32_t http_port = 8080;
  std::string cors_origin; ///< empty: no cross-origin callers
  int32_t http_threads = 16;
  int64_t max_body_bytes = 65536;
  int32_t max_connections = 1024;
  caf::timespan read_timeout = std::chrono::seconds(10);
  caf::timespan idle_timeout = std::chrono::seconds(30);
  int64_t max_header_bytes = 8192;
  bool admin_open = false;
  std::string static_dir;

  /// Secrets, from the environment only (never from the file or a flag):
  /// TROUPE_HTTP_ADMIN_TOKEN, TROUPE_HTTP_METRICS_TOKEN,
  /// TROUPE_POSTGRES_PASSWORD (libpq also reads PGPASSWORD and PGPASSFILE
  /// by itself).
  std::string admin_token;
  std::string metrics_token;
  std::string pg_password;

  std::string pg_url = "postgresql://troupe@127.0.0.1:55432/troupe";
  int32_t pg_pool_size = 4;
  int32_t pg_max_batch = 256;

  std::string kafka_brokers;
  std::string bootstrap_file;
  std::string group_prefix = "troupe";
  int32_t fetch_wait_max_ms = 10;
  caf::timespan session_timeout = std::chrono::seconds(10);
  std::string security_protocol;
  std::string sasl_mechanism;
  std::string sasl_username;
  std::string sasl_password;
  std::string ssl_ca_location;
  int32_t max_in_flight = 2000;

  caf::timespan deadline = std::chrono::seconds(30);
  caf::timespan sweep_interval = std::chrono::seconds(1);

  int64_t default_stock = 1000000;

  /// Ages after which retention deletes rows (0: keep forever); see
  /// adapters/postgres/retention.hpp.
  caf::timespan retention_processed_events = std::chrono::hours(7 * 24);
  caf::timespan retention_timeline = std::chrono::hours(30 * 24);
  caf::timespan retention_dead_letters = std::chrono::hours(30 * 24);
  caf::timespan retention_outbox_published = std::chrono::hours(24);
  int32_t retention_batch = 1000;
  caf::timespan retention_pause = std::chrono::milliseconds(100);
  caf::timespan retention_interval = std::chrono::minutes(1);

  int32_t retry_max_attempts = 5;
  caf::timespan retry_base = std::chrono::milliseconds(100);
  caf::timespan retry_cap = std::chrono::seconds(10);
  double retry_factor = 2.0;
  double retry_jitter = 0.2;

  /// Per-step overrides of the retry policy (`retry.<step>-max-attempts`,
  /// `-base`, `-cap`, `-factor`); zero means "as `retry.*`".
  struct retry_override {
    int32_t max_attempts = 0;
    caf::timespan base{0};
    caf::timespan cap{0};
    double factor = 0;
  };
  std::map<std::string, retry_override> retry_steps;

  std::string log_level = "info";
  std::string log_format = "text";

  node_config();

  /// Parses the file, the environment and `args`. Returns an error message
  /// naming the offending key, or "" on success.
  std::string load(int argc, char** argv);

  bool has_role(const std::string& role) const;

  /// The retry policy of one step (a consumer: payment, inventory,
  /// orchestrator, notification, analytics).
  retry_policy retry_for(const std::string& step) const;

  /// Lists Troupe's options with their types and descriptions.
  void print_help(std::ostream& out) const;

  /// The allowed range of one numeric option, checked after parsing.
  struct option_bound {
    std::string key;
    std::function<std::string()> violation; ///< "" when within range
  };

private:
  /// One entry per numeric option, declared next to the options.
  std::vector<option_bound> bounds_;
};

} // namespace troupe
