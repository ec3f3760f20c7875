#include "apps/troupe-node/settings.hpp"

#include <chrono>

namespace troupe {

namespace {

std::chrono::milliseconds ms(caf::timespan t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t);
}

std::chrono::seconds secs(caf::timespan t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t);
}

} // namespace

kafka_settings kafka_settings_of(const node_config& cfg) {
  kafka_settings k;
  k.brokers = cfg.kafka_brokers;
  k.group_prefix = cfg.group_prefix;
  k.fetch_wait_max_ms = cfg.fetch_wait_max_ms;
  k.session_timeout = ms(cfg.session_timeout);
  k.security_protocol = cfg.security_protocol;
  k.sasl_mechanism = cfg.sasl_mechanism;
  k.sasl_username = cfg.sasl_username;
  k.sasl_password = cfg.sasl_password;
  k.ssl_ca_location = cfg.ssl_ca_location;
  k.client_id = "troupe-" + cfg.node_id;
  return k;
}

pg_settings pg_settings_of(const node_config& cfg,
                           std::shared_ptr<partition_fence> fence) {
  pg_settings pg;
  pg.fence = std::move(fence);
  pg.url = cfg.pg_url;
  pg.pool_size = cfg.pg_pool_size;
  pg.max_batch = cfg.pg_max_batch;
  pg.node_id = cfg.node_id;
  return pg;
}

relay_config relay_config_of(const node_config& cfg) {
  relay_config relay;
  relay.pg_url = cfg.pg_url;
  relay.kafka = kafka_settings_of(cfg);
  return relay;
}

retention_settings retention_settings_of(const node_config& cfg) {
  retention_settings rs;
  rs.url = cfg.pg_url;
  rs.processed_events = secs(cfg.retention_processed_events);
  rs.timeline = secs(cfg.retention_timeline);
  rs.dead_letters = secs(cfg.retention_dead_letters);
  rs.outbox_published = secs(cfg.retention_outbox_published);
  rs.batch = cfg.retention_batch;
  rs.pause = ms(cfg.retention_pause);
  rs.interval = ms(cfg.retention_interval);
  return rs;
}

http_settings http_settings_of(const node_config& cfg) {
  http_settings hs;
  hs.host = cfg.http_host;
  hs.port = cfg.http_port;
  hs.cors_origin = cfg.cors_origin;
  hs.threads = cfg.http_threads;
  hs.max_body_bytes = cfg.max_body_bytes;
  hs.max_connections = cfg.max_connections;
  hs.read_timeout = ms(cfg.read_timeout);
  hs.idle_timeout = ms(cfg.idle_timeout);
  hs.max_header_bytes = cfg.max_header_bytes;
  hs.admin = access_policy{cfg.admin_token, cfg.admin_open};
  hs.metrics = access_policy{cfg.metrics_token, true};
  hs.static_dir = cfg.static_dir;
  hs.deadline = ms(cfg.deadline);
  return hs;
}

} // namespace troupe
