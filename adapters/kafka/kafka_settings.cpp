// librdkafka configuration from Troupe's settings.
#include "adapters/kafka/kafka_settings.hpp"

#include <stdexcept>

#include <librdkafka/rdkafka.h>

#include "observability/log.hpp"

namespace troupe {

void set_conf(rd_kafka_conf_t* conf, const char* key, const std::string& val) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, val.c_str(), err, sizeof(err))
      != RD_KAFKA_CONF_OK)
    throw std::runtime_error(std::string{"kafka setting "} + key + ": " + err);
}

namespace {

/// librdkafka's log lines go through Troupe's logger. Runs on librdkafka's
/// threads. Connection errors are expected while brokers restart: warnings.
void on_log(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  if (level <= 4)
    log::warn("kafka", "{}: {}", fac, buf);
  else if (level <= 6)
    log::info("kafka", "{}: {}", fac, buf);
  else
    log::debug("kafka", "{}: {}", fac, buf);
}

} // namespace

rd_kafka_conf_t* make_conf(const kafka_settings& cfg) {
  auto conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, on_log);
  try {
    set_conf(conf, "bootstrap.servers", cfg.brokers);
    set_conf(conf, "client.id", cfg.client_id);
    // Without this, small requests wait for the peer's delayed ACK (~40 ms).
    set_conf(conf, "socket.nagle.disable", "true");
    // After an outage, reconnect within a second of the brokers' return
    // (librdkafka's default backs off to 10 s).
    set_conf(conf, "reconnect.backoff.max.ms", "1000");
    if (!cfg.security_protocol.empty())
      set_conf(conf, "security.protocol", cfg.security_protocol);
    if (!cfg.sasl_mechanism.empty())
      set_conf(conf, "sasl.mechanism", cfg.sasl_mechanism);
    if (!cfg.sasl_username.empty())
      set_conf(conf, "sasl.username", cfg.sasl_username);
    if (!cfg.sasl_password.empty())
      set_conf(conf, "sasl.password", cfg.sasl_password);
    if (!cfg.ssl_ca_location.empty())
      set_conf(conf, "ssl.ca.location", cfg.ssl_ca_location);
  } catch (...) {
    rd_kafka_conf_destroy(conf);
    throw;
  }
  return conf;
}

rd_kafka_t*
make_producer(const kafka_settings& cfg,
              const std::vector<std::pair<const char*, std::string>>& extra,
              void* opaque, delivery_report_cb on_delivery, std::string& why) {
  auto conf = make_conf(cfg);
  try {
    set_conf(conf, "enable.idempotence", "true");
    set_conf(conf, "acks", "all");
    for (auto& [key, val] : extra)
      set_conf(conf, key, val);
  } catch (...) {
    rd_kafka_conf_destroy(conf);
    throw;
  }
  rd_kafka_conf_set_opaque(conf, opaque);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  char err[512];
  auto producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (producer == nullptr) {
    rd_kafka_conf_destroy(conf);
    why = err;
  }
  return producer;
}

} // namespace troupe
