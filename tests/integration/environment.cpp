// Test databases and an in-process Kafka-protocol cluster.
#include "tests/integration/environment.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pqxx/pqxx>

namespace troupe::test {

namespace {

std::string admin_url() {
  auto dir = std::getenv("TROUPE_TESTENV");
  if (dir == nullptr)
    throw std::runtime_error("TROUPE_TESTENV is not set (run through ctest)");
  std::ifstream in{std::string{dir} + "/pg_url"};
  std::string url;
  std::getline(in, url);
  if (url.empty())
    throw std::runtime_error("no test PostgreSQL: run through ctest");
  return url;
}

} // namespace

std::string fresh_database(const std::string& name) {
  auto admin = admin_url();
  pqxx::connection conn{admin};
  pqxx::nontransaction tx{conn};
  tx.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  tx.exec("CREATE DATABASE " + name);
  return admin.substr(0, admin.rfind('/') + 1) + name;
}

std::vector<std::string> query_column(const std::string& url,
                                      const std::string& sql) {
  pqxx::connection conn{url};
  pqxx::work tx{conn};
  std::vector<std::string> result;
  for (const auto& row : tx.exec(sql))
    result.push_back(row[0].is_null() ? "" : row[0].as<std::string>());
  tx.commit();
  return result;
}

kafka_cluster::kafka_cluster(int partitions) {
  char err[512];
  auto conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "socket.nagle.disable", "true", err, sizeof(err));
  rd_kafka_conf_set(conf, "log_level", "2", err, sizeof(err));
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  mc_ = rd_kafka_mock_cluster_new(rk_, 1);
  for (auto t : {"order.created", "payment.result", "inventory.result",
                 "order.status.changed", "inventory.release", "payment.refund",
                 "order.cancel.requested"}) {
    rd_kafka_mock_topic_create(mc_, t, partitions, 1);
    rd_kafka_mock_topic_create(mc_, (std::string{t} + ".dlq").c_str(),
                               partitions, 1);
  }
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(mc_);
}

kafka_cluster::~kafka_cluster() {
  rd_kafka_mock_cluster_destroy(mc_);
  rd_kafka_destroy(rk_);
}

std::vector<kafka_cluster::record>
kafka_cluster::read_all(const std::string& topic) {
  char err[512];
  auto conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), err,
                    sizeof(err));
  rd_kafka_conf_set(conf, "group.id", "troupe-test-reader", err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
  auto rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  auto t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_metadata(rk, 0, t, &md, 5000);
  int parts = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(t);
  auto list = rd_kafka_topic_partition_list_new(parts);
  for (int p = 0; p < parts; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset
      = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<record> result;
  int eof = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (eof < parts && std::chrono::steady_clock::now() < deadline) {
    auto msg = rd_kafka_consumer_poll(rk, 100);
    if (msg == nullptr)
      continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ++eof;
    } else if (!msg->err) {
      record r;
      if (msg->key)
        r.key.assign(static_cast<const char*>(msg->key), msg->key_len);
      if (msg->payload)
        r.value.assign(static_cast<const char*>(msg->payload), msg->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* val = nullptr;
        size_t size = 0;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size)
                           == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i)
          r.headers[name] = std::string{static_cast<const char*>(val), size};
      }
      result.push_back(std::move(r));
    }
    rd_kafka_message_destroy(msg);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return result;
}

void kafka_cluster::produce(const std::string& topic, const std::string& key,
                            const std::string& value,
                            const std::map<std::string, std::string>& headers) {
  char err[512];
  auto conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), err,
                    sizeof(err));
  rd_kafka_conf_set(conf, "partitioner", "murmur2_random", err, sizeof(err));
  auto rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  auto hdrs = rd_kafka_headers_new(4);
  for (auto& [k, v] : headers)
    rd_kafka_header_add(hdrs, k.c_str(), -1, v.data(),
                        static_cast<ssize_t>(v.size()));
  rd_kafka_producev(
    rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
    RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
    RD_KAFKA_V_END);
  rd_kafka_flush(rk, 10000);
  rd_kafka_destroy(rk);
}

} // namespace troupe::test
