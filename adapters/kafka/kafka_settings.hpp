// Connection settings shared by Troupe's Kafka clients, and the librdkafka
// configuration built from them. Security settings pass straight through to
// librdkafka; secrets come from the environment, never from committed files.
#pragma once

#include <chrono>
#include <string>

struct rd_kafka_conf_s;

namespace troupe {

struct kafka_settings {
  std::string brokers;
  std::string group_prefix = "troupe";
  int fetch_wait_max_ms = 10;
  std::chrono::milliseconds session_timeout{10000};
  std::string security_protocol; ///< e.g. SASL_SSL; empty: plaintext
  std::string sasl_mechanism;    ///< e.g. SCRAM-SHA-512
  std::string sasl_username;
  std::string sasl_password; ///< from TROUPE_KAFKA_SASL_PASSWORD
  std::string ssl_ca_location;
  std::string client_id = "troupe";
};

/// A librdkafka configuration with the brokers and security settings set.
/// Throws std::runtime_error naming the property librdkafka refused.
rd_kafka_conf_s* make_conf(const kafka_settings& cfg);

/// Sets one property; throws std::runtime_error when librdkafka refuses it.
void set_conf(rd_kafka_conf_s* conf, const char* key, const std::string& val);

} // namespace troupe
