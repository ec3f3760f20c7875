// Connection settings shared by Troupe's Kafka clients, and the librdkafka
// configuration built from them. Security settings pass straight through to
// librdkafka; secrets come from the environment, never from committed files.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

struct rd_kafka_conf_s;
struct rd_kafka_s;
struct rd_kafka_message_s;

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

/// Called by librdkafka (inside rd_kafka_poll) for each produced message.
using delivery_report_cb = void (*)(rd_kafka_s*, const rd_kafka_message_s*,
                                    void* opaque);

/// An idempotent producer (acks=all) with `extra` properties on top of
/// `cfg`; its delivery reports go to `on_delivery` with `opaque`. Throws
/// std::runtime_error when librdkafka refuses a property; returns nullptr
/// with the reason in `why` when it cannot create the producer. Nothing
/// leaks either way.
rd_kafka_s*
make_producer(const kafka_settings& cfg,
              const std::vector<std::pair<const char*, std::string>>& extra,
              void* opaque, delivery_report_cb on_delivery, std::string& why);

} // namespace troupe
