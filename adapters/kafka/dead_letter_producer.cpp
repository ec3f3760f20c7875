// Producing dead letters straight to Kafka.
#include "adapters/kafka/dead_letter_producer.hpp"

#include <string>

#include <librdkafka/rdkafka.h>

#include "adapters/kafka/kafka_errors.hpp"
#include "base/errors.hpp"
#include "envelope/events.hpp"
#include "observability/log.hpp"

namespace troupe {

dead_letter_producer_state::~dead_letter_producer_state() {
  if (producer) {
    rd_kafka_flush(producer, 5000);
    rd_kafka_destroy(producer);
  }
}

namespace {

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  static_cast<dead_letter_producer_state*>(opaque)->last_error = msg->err;
}

} // namespace

dead_letter_fallback_actor::behavior_type dead_letter_producer(
  dead_letter_fallback_actor::stateful_pointer<dead_letter_producer_state> self,
  kafka_settings kafka) {
  self->state.kafka = std::move(kafka);
  return {
    [=](dead_letter& d) -> caf::result<write_outcome> {
      auto& st = self->state;
      if (st.producer == nullptr) {
        try {
          std::string why;
          st.producer = make_producer(
            st.kafka, {{"message.timeout.ms", "10000"}}, &st, on_delivery, why);
          if (st.producer == nullptr)
            return make_error(troupe_errc::timeout, "kafka producer: " + why);
        } catch (const std::exception& e) {
          return make_error(troupe_errc::internal, e.what());
        }
      }
      auto hdrs = rd_kafka_headers_new(10);
      for (auto& [k, v] : events::dead_letter_headers(d))
        rd_kafka_header_add(hdrs, k.c_str(), -1, v.data(),
                            static_cast<ssize_t>(v.size()));
      auto topic = d.topic + ".dlq";
      st.last_error = -1;
      auto err = rd_kafka_producev(st.producer, RD_KAFKA_V_TOPIC(topic.c_str()),
                                   RD_KAFKA_V_KEY(d.key.data(), d.key.size()),
                                   RD_KAFKA_V_VALUE(d.payload.data(),
                                                    d.payload.size()),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                   RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
      if (err) {
        rd_kafka_headers_destroy(hdrs);
        return classify_produce(err);
      }
      rd_kafka_flush(st.producer, 11000);
      if (st.last_error != 0) {
        auto e = st.last_error < 0
                   ? RD_KAFKA_RESP_ERR__TIMED_OUT
                   : static_cast<rd_kafka_resp_err_t>(st.last_error);
        return classify_produce(e);
      }
      log::warn("dead_letters",
                "{}[{}]@{} sent straight to {} (the store "
                "refused it)",
                d.topic, d.partition, d.offset, topic);
      return write_outcome::applied;
    },
  };
}

} // namespace troupe
