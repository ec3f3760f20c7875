// The Kafka consumer actor's poll loop, dispatch, retries and commits.
#include "consumer.hpp"

#include <stdexcept>

#include <caf/event_based_actor.hpp>
#include <librdkafka/rdkafka.h>

#include "codec.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "events.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "messages.hpp"

namespace troupe {

namespace {

using consumer_ptr = caf::stateful_actor<consumer_state>*;

void commit_now(consumer_state& st, bool async) {
  auto list = rd_kafka_topic_partition_list_new(8);
  for (auto& [topic, tracker] : st.trackers)
    for (auto& [part, next] : tracker.take_commits())
      rd_kafka_topic_partition_list_add(list, topic.c_str(), part)->offset
        = next;
  if (list->cnt > 0) {
    auto err = rd_kafka_commit(st.rk, list, async ? 1 : 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
      log::warn("consumer", "{}: commit failed: {}", st.cfg.name,
                rd_kafka_err2str(err));
  }
  rd_kafka_topic_partition_list_destroy(list);
  st.last_commit = std::chrono::steady_clock::now();
}

std::vector<int32_t> first_topic_partitions(
  consumer_state& st, const rd_kafka_topic_partition_list_t* parts) {
  std::vector<int32_t> result;
  if (st.cfg.routes.empty())
    return result;
  auto& first = st.cfg.routes.begin()->first;
  for (int i = 0; i < parts->cnt; ++i)
    if (first == parts->elems[i].topic)
      result.push_back(parts->elems[i].partition);
  return result;
}

void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
               rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto& st = *static_cast<consumer_state*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    log::info("consumer", "{}: assigned {} partition(s)", st.cfg.name,
              parts->cnt);
    rd_kafka_assign(rk, parts);
    st.paused = false;
    if (st.cfg.on_assigned)
      st.cfg.on_assigned(first_topic_partitions(st, parts));
    return;
  }
  // Revoked: commit what is done, forget the rest (the next owner gets it
  // redelivered; handlers are idempotent).
  log::info("consumer", "{}: revoked {} partition(s)", st.cfg.name,
            parts->cnt);
  commit_now(st, false);
  for (int i = 0; i < parts->cnt; ++i) {
    auto t = st.trackers.find(parts->elems[i].topic);
    if (t != st.trackers.end())
      t->second.forget(parts->elems[i].partition);
  }
  for (auto i = st.inflight.begin(); i != st.inflight.end();) {
    bool gone = false;
    for (int j = 0; j < parts->cnt; ++j)
      if (i->second.topic == parts->elems[j].topic
          && i->second.partition == parts->elems[j].partition)
        gone = true;
    i = gone ? st.inflight.erase(i) : std::next(i);
  }
  if (st.cfg.on_revoked)
    st.cfg.on_revoked(first_topic_partitions(st, parts));
  rd_kafka_assign(rk, nullptr);
}

size_t total_in_flight(const consumer_state& st) {
  size_t n = 0;
  for (auto& [topic, tracker] : st.trackers)
    n += tracker.in_flight();
  return n;
}

void set_paused(consumer_state& st, bool pause) {
  if (st.paused == pause)
    return;
  rd_kafka_topic_partition_list_t* parts = nullptr;
  if (rd_kafka_assignment(st.rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return;
  if (pause)
    rd_kafka_pause_partitions(st.rk, parts);
  else
    rd_kafka_resume_partitions(st.rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  st.paused = pause;
}

void complete(consumer_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.inflight.find(id);
  if (i == st.inflight.end())
    return;
  st.trackers[i->second.topic].complete(i->second.partition, i->second.offset);
  st.inflight.erase(i);
}

void dead_letter_msg(consumer_ptr self, uint64_t id, const std::string& why) {
  auto& st = self->state;
  auto i = st.inflight.find(id);
  if (i == st.inflight.end())
    return;
  auto& m = i->second;
  m.last_error = why;
  dead_letter cmd;
  cmd.topic = m.topic;
  cmd.partition = m.partition;
  cmd.offset = m.offset;
  cmd.key = m.key;
  cmd.payload = m.payload;
  cmd.error = why;
  cmd.attempts = std::max(1, m.attempts);
  cmd.last_failure = events::now_iso8601();
  cmd.first_failure = m.first_failure.empty() ? cmd.last_failure
                                              : m.first_failure;
  cmd.correlation_id = m.correlation_id;
  cmd.consumer = st.cfg.name;
  log::warn_order("consumer", m.key, m.correlation_id,
                  "{}: dead-lettering {}[{}]@{} after {} attempt(s): {}",
                  st.cfg.name, m.topic, m.partition, m.offset, cmd.attempts,
                  why);
  self->request(st.cfg.dead_letters, st.cfg.handler_timeout, std::move(cmd))
    .then(
      [=](write_outcome) {
        ++self->state.dead_lettered;
        if (auto i = self->state.inflight.find(id); i != self->state.inflight.end())
          metrics::inc("troupe_events_dead_lettered_total",
                       {{"group", self->state.cfg.name},
                        {"topic", i->second.topic}});
        complete(self, id);
      },
      [=](caf::error& err) {
        // The dead-letter write itself failed (database down): keep the
        // message and try again later; its offset stays uncommitted.
        log::warn("consumer", "{}: dead-letter write failed: {}",
                  self->state.cfg.name, describe(err));
        self->delayed_send(self, std::chrono::seconds(1), retry_atom::value,
                           id, true);
      });
}

void dispatch(consumer_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.inflight.find(id);
  if (i == st.inflight.end())
    return;
  auto& m = i->second;
  ++m.attempts;
  auto route = st.cfg.routes.find(m.topic);
  self->request(route->second, st.cfg.handler_timeout, m.msg)
    .then([=](write_outcome) { complete(self, id); },
          [=](caf::error& err) {
            auto& st = self->state;
            auto i = st.inflight.find(id);
            if (i == st.inflight.end())
              return;
            auto& m = i->second;
            m.last_error = describe(err);
            if (m.first_failure.empty())
              m.first_failure = events::now_iso8601();
            // An outage of the store is not the message's fault: it waits
            // (backing off to the cap) instead of spending its budget, so a
            // database restart never turns work into dead letters.
            bool outage = err.category() == troupe_category
                          && (err.code() == static_cast<uint8_t>(troupe_errc::storage_unavailable)
                              || err.code() == static_cast<uint8_t>(troupe_errc::commit_unknown)
                              || err.code() == static_cast<uint8_t>(troupe_errc::unavailable));
            if (outage && m.attempts >= st.cfg.retry.max_attempts)
              m.attempts = st.cfg.retry.max_attempts - 1;
            if (!retryable(err) || m.attempts >= st.cfg.retry.max_attempts) {
              dead_letter_msg(self, id, m.last_error);
              return;
            }
            std::uniform_real_distribution<double> unit{0.0, 1.0};
            auto delay = backoff_delay(st.cfg.retry, m.attempts, unit(st.rng));
            ++st.retried;
            metrics::inc("troupe_events_retried_total",
                         {{"group", st.cfg.name}, {"topic", m.topic}});
            log::debug("consumer", "{}: retry {} of {}[{}]@{} in {} ms: {}",
                       st.cfg.name, m.attempts, m.topic, m.partition, m.offset,
                       delay.count(), m.last_error);
            self->delayed_send(self, delay, retry_atom::value, id, false);
          });
}

void handle(consumer_ptr self, rd_kafka_message_t* msg) {
  auto& st = self->state;
  if (msg->err) {
    if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
      log::warn("consumer", "{}: {}", st.cfg.name, rd_kafka_message_errstr(msg));
    return;
  }
  ++st.consumed;
  inflight_msg m;
  m.topic = rd_kafka_topic_name(msg->rkt);
  metrics::inc("troupe_events_consumed_total",
               {{"group", st.cfg.name}, {"topic", m.topic}});
  m.partition = msg->partition;
  m.offset = msg->offset;
  if (msg->key)
    m.key.assign(static_cast<const char*>(msg->key), msg->key_len);
  if (msg->payload)
    m.payload.assign(static_cast<const char*>(msg->payload), msg->len);
  auto id = st.next_id++;
  st.trackers[m.topic].start(m.partition, m.offset);
  auto decoded = codec::decode(m.topic, m.payload, m.correlation_id);
  bool ok = static_cast<bool>(decoded);
  std::string why = ok ? "" : describe(decoded.error());
  if (ok)
    m.msg = std::move(*decoded);
  st.inflight.emplace(id, std::move(m));
  if (ok)
    dispatch(self, id);
  else
    dead_letter_msg(self, id, why);
}

void poll_once(consumer_ptr self) {
  auto& st = self->state;
  auto busy = !st.inflight.empty();
  for (int i = 0; i < 500; ++i) {
    auto msg = rd_kafka_consumer_poll(st.rk, i == 0 ? (busy ? 1 : 20) : 0);
    if (msg == nullptr)
      break;
    handle(self, msg);
    rd_kafka_message_destroy(msg);
    if (total_in_flight(st) >= st.cfg.max_in_flight)
      break;
  }
  auto n = total_in_flight(st);
  if (n >= st.cfg.max_in_flight)
    set_paused(st, true);
  else if (n <= st.cfg.max_in_flight / 2)
    set_paused(st, false);
  if (std::chrono::steady_clock::now() - st.last_commit
      >= st.cfg.commit_interval)
    commit_now(st, true);
  self->send(self, poll_atom::value);
}

} // namespace

consumer_state::~consumer_state() {
  if (rk == nullptr)
    return;
  commit_now(*this, false);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  rk = nullptr;
}

caf::behavior kafka_consumer(caf::stateful_actor<consumer_state>* self,
                             consumer_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  auto conf = make_conf(st.cfg.kafka);
  try {
    set_conf(conf, "group.id", st.cfg.kafka.group_prefix + "." + st.cfg.name);
    set_conf(conf, "enable.auto.commit", "false");
    set_conf(conf, "enable.auto.offset.store", "false");
    set_conf(conf, "auto.offset.reset", "earliest");
    set_conf(conf, "fetch.wait.max.ms",
             std::to_string(st.cfg.kafka.fetch_wait_max_ms));
    set_conf(conf, "session.timeout.ms",
             std::to_string(st.cfg.kafka.session_timeout.count()));
    set_conf(conf, "heartbeat.interval.ms",
             std::to_string(std::max<int64_t>(
               100, st.cfg.kafka.session_timeout.count() / 3)));
    set_conf(conf, "queued.max.messages.kbytes", "16384");
    set_conf(conf, "partition.assignment.strategy", "range,roundrobin");
  } catch (...) {
    rd_kafka_conf_destroy(conf);
    throw;
  }
  rd_kafka_conf_set_opaque(conf, &st);
  rd_kafka_conf_set_rebalance_cb(conf, rebalance);
  char err[512];
  st.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (st.rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string{"kafka consumer: "} + err);
  }
  rd_kafka_poll_set_consumer(st.rk);
  auto topics = rd_kafka_topic_partition_list_new(
    static_cast<int>(st.cfg.routes.size()));
  for (auto& [topic, target] : st.cfg.routes)
    rd_kafka_topic_partition_list_add(topics, topic.c_str(),
                                      RD_KAFKA_PARTITION_UA);
  auto rc = rd_kafka_subscribe(st.rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (rc)
    throw std::runtime_error(std::string{"kafka subscribe: "}
                             + rd_kafka_err2str(rc));
  st.last_commit = std::chrono::steady_clock::now();
  self->send(self, poll_atom::value);
  return {
    [=](poll_atom) { poll_once(self); },
    [=](retry_atom, uint64_t id, bool dead_letter_write) {
      auto& st = self->state;
      auto i = st.inflight.find(id);
      if (i == st.inflight.end())
        return;
      if (dead_letter_write)
        dead_letter_msg(self, id, i->second.last_error);
      else
        dispatch(self, id);
    },
  };
}

} // namespace troupe
