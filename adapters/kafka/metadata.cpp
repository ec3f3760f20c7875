#include "adapters/kafka/metadata.hpp"

#include <exception>

#include <librdkafka/rdkafka.h>

namespace troupe {

kafka_metadata::kafka_metadata(const kafka_settings& kafka) {
  rd_kafka_conf_t* conf = nullptr;
  try {
    conf = make_conf(kafka);
  } catch (const std::exception& e) {
    error_ = e.what();
    return;
  }
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    error_ = std::string{"kafka: "} + err;
  }
}

kafka_metadata::~kafka_metadata() {
  if (rk_)
    rd_kafka_destroy(rk_);
}

std::string kafka_metadata::why_unreachable(std::chrono::milliseconds timeout) {
  if (rk_ == nullptr)
    return error_;
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk_, 1, nullptr, &md, static_cast<int>(timeout.count()))
      != RD_KAFKA_RESP_ERR_NO_ERROR)
    return "kafka: brokers unreachable";
  rd_kafka_metadata_destroy(md);
  return "";
}

int32_t kafka_metadata::partitions(const std::string& topic,
                                   std::chrono::milliseconds timeout) {
  if (rk_ == nullptr)
    return 0;
  auto t = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  int32_t n = 0;
  if (rd_kafka_metadata(rk_, 0, t, &md, static_cast<int>(timeout.count()))
      == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (md->topic_cnt == 1 && md->topics[0].err == 0)
      n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(t);
  return n;
}

} // namespace troupe
