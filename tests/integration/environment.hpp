// Real infrastructure for the integration suites: a fresh database in the
// test PostgreSQL (started by the ctest fixture) and an in-process
// Kafka-protocol cluster (librdkafka's mock brokers, reached over TCP).
#pragma once

#include <map>
#include <string>
#include <vector>

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace troupe::test {

/// Creates (or recreates) database `name`; returns its URL.
std::string fresh_database(const std::string& name);

/// One query, first column of every row, as strings.
std::vector<std::string> query_column(const std::string& url,
                                      const std::string& sql);

class kafka_cluster {
public:
  explicit kafka_cluster(int partitions = 3);
  ~kafka_cluster();
  kafka_cluster(const kafka_cluster&) = delete;
  kafka_cluster& operator=(const kafka_cluster&) = delete;

  const std::string& bootstrap() const {
    return bootstrap_;
  }

  struct record {
    std::string key;
    std::string value;
    std::map<std::string, std::string> headers;
  };

  /// Everything in `topic`, read from the beginning.
  std::vector<record> read_all(const std::string& topic);

  /// Produces one record and waits for its acknowledgement.
  void produce(const std::string& topic, const std::string& key,
               const std::string& value,
               const std::map<std::string, std::string>& headers = {});

private:
  rd_kafka_s* rk_ = nullptr;
  rd_kafka_mock_cluster_s* mc_ = nullptr;
  std::string bootstrap_;
};

} // namespace troupe::test
