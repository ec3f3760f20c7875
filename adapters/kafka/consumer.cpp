// The Kafka consumer actor's poll loop, dispatch, retries and commits.
#include "adapters/kafka/consumer.hpp"

#include <stdexcept>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <librdkafka/rdkafka.h>

#include "actors/messages.hpp"
#include "base/errors.hpp"
#include "envelope/codec.hpp"
#include "envelope/events.hpp"
#include "observability/log.hpp"

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

std::vector<int32_t>
first_topic_partitions(consumer_state& st,
                       const rd_kafka_topic_partition_list_t* parts) {
  std::vector<int32_t> result;
  if (st.cfg.routes.empty())
    return result;
  auto first = st.cfg.routes.topics().front();
  for (int i = 0; i < parts->cnt; ++i)
    if (first == parts->elems[i].topic)
      result.push_back(parts->elems[i].partition);
  return result;
}

/// Finishes a revocation: commits what is done, forgets the partitions'
/// remaining work (the next owner gets it redelivered; handlers are
/// idempotent), tells the owner, and hands the partitions back to the group.
void finish_revoke(consumer_state& st, rd_kafka_topic_partition_list_t* parts) {
  commit_now(st, false);
  for (int i = 0; i < parts->cnt; ++i) {
    auto t = st.trackers.find(parts->elems[i].topic);
    if (t != st.trackers.end())
      t->second.forget(parts->elems[i].partition);
    // Their retries and timers go too: the next owner has the messages.
    if (st.delivery)
      caf::anon_send(st.delivery, revoke_atom::value,
                     std::string{parts->elems[i].topic},
                     parts->elems[i].partition);
    st.probe.forget_lag(parts->elems[i].topic, parts->elems[i].partition);
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
  rd_kafka_assign(st.rk, nullptr);
}

bool revoking(const consumer_state& st, const std::string& topic,
              int32_t partition) {
  if (!st.revoking)
    return false;
  for (auto& [t, p] : st.revoking->parts)
    if (p == partition && t == topic)
      return true;
  return false;
}

/// Whether the work of a pending revocation is done (or its time is up).
void maybe_finish_revoke(consumer_state& st) {
  if (!st.revoking)
    return;
  bool busy = false;
  for (auto& [id, m] : st.inflight)
    if (revoking(st, m.topic, m.partition))
      busy = true;
  auto late = std::chrono::steady_clock::now() >= st.revoking->deadline;
  if (busy && !late)
    return;
  if (busy)
    log::warn("consumer", "{}: handing off partitions with work in flight",
              st.cfg.name);
  auto list = rd_kafka_topic_partition_list_new(
    static_cast<int>(st.revoking->parts.size()));
  for (auto& [t, p] : st.revoking->parts)
    rd_kafka_topic_partition_list_add(list, t.c_str(), p);
  st.revoking.reset();
  finish_revoke(st, list);
  rd_kafka_topic_partition_list_destroy(list);
}

void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
               rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto& st = *static_cast<consumer_state*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    log::info("consumer", "{}: assigned {} partition(s)", st.cfg.name,
              parts->cnt);
    rd_kafka_assign(rk, parts);
    // A partition keeps its pause flag across assignments (it was paused
    // when it was revoked): set it explicitly.
    if (st.outage)
      rd_kafka_pause_partitions(rk, parts);
    else
      rd_kafka_resume_partitions(rk, parts);
    st.paused = st.outage;
    if (st.cfg.on_assigned)
      st.cfg.on_assigned(first_topic_partitions(st, parts));
    return;
  }
  log::info("consumer", "{}: revoked {} partition(s)", st.cfg.name, parts->cnt);
  // Closing, or the store is down (the work in flight cannot commit, and
  // waiting would only hold the group's rebalance): hand off at once.
  if (st.closing || st.outage) {
    finish_revoke(st, parts);
    return;
  }
  // Stop fetching, let the work in flight commit, then hand off (the group
  // waits for the unassign).
  rd_kafka_pause_partitions(rk, parts);
  pending_revoke pr;
  for (int i = 0; i < parts->cnt; ++i)
    pr.parts.emplace_back(parts->elems[i].topic, parts->elems[i].partition);
  pr.deadline = std::chrono::steady_clock::now() + st.cfg.revoke_grace;
  st.revoking = std::move(pr);
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
  if (pause) {
    rd_kafka_pause_partitions(st.rk, parts);
  } else {
    // Partitions being revoked stay paused.
    auto resume = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; ++i)
      if (!revoking(st, parts->elems[i].topic, parts->elems[i].partition))
        rd_kafka_topic_partition_list_add(resume, parts->elems[i].topic,
                                          parts->elems[i].partition);
    rd_kafka_resume_partitions(st.rk, resume);
    rd_kafka_topic_partition_list_destroy(resume);
  }
  rd_kafka_topic_partition_list_destroy(parts);
  st.paused = pause;
}

void complete(consumer_ptr self, uint64_t id, delivery_outcome x) {
  auto& st = self->state;
  auto i = st.inflight.find(id);
  if (i == st.inflight.end())
    return;
  // A handed-off message stays uncommitted: the partition's new owner reads
  // it again from the last committed offset (the tracker forgets it when
  // the partition is revoked).
  if (x != delivery_outcome::handed_off)
    st.trackers[i->second.topic].complete(i->second.partition,
                                          i->second.offset);
  st.inflight.erase(i);
}

void handle(consumer_ptr self, rd_kafka_message_t* msg) {
  auto& st = self->state;
  if (msg->err) {
    if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
      log::warn("consumer", "{}: {}", st.cfg.name,
                rd_kafka_message_errstr(msg));
    return;
  }
  delivery_job job;
  job.topic = rd_kafka_topic_name(msg->rkt);
  job.partition = msg->partition;
  job.offset = msg->offset;
  // Fetched before the pause took effect: the next owner reads it.
  if (revoking(st, job.topic, job.partition))
    return;
  st.probe.consumed(job.topic);
  if (msg->key)
    job.key.assign(static_cast<const char*>(msg->key), msg->key_len);
  if (msg->payload)
    job.payload.assign(static_cast<const char*>(msg->payload), msg->len);
  auto decoded = codec::decode(job.topic, job.key, job.payload,
                               job.correlation_id);
  if (decoded)
    job.event = std::move(*decoded);
  else
    job.malformed = describe(decoded.error());
  auto id = st.next_id++;
  job.id = id;
  st.trackers[job.topic].start(job.partition, job.offset);
  st.inflight.emplace(id, inflight_msg{job.topic, job.partition, job.offset});
  self->request(st.delivery, caf::infinite, std::move(job))
    .then([=](delivery_outcome x) { complete(self, id, x); },
          [=](caf::error& err) {
            // Delivery is gone: stop, so that the supervisor starts a fresh
            // consumer; the uncommitted work is redelivered.
            log::error("consumer", "{}: delivery failed: {}",
                       self->state.cfg.name, describe(err));
            self->quit(err);
          });
}

/// Consumer lag per partition: the high watermark (as last seen by the
/// fetcher, no broker round trip) minus the committable position.
void report_lag(consumer_state& st) {
  rd_kafka_topic_partition_list_t* parts = nullptr;
  if (rd_kafka_assignment(st.rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return;
  rd_kafka_position(st.rk, parts);
  for (int i = 0; i < parts->cnt; ++i) {
    auto& e = parts->elems[i];
    int64_t lo = 0;
    int64_t hi = 0;
    if (rd_kafka_get_watermark_offsets(st.rk, e.topic, e.partition, &lo, &hi)
          != RD_KAFKA_RESP_ERR_NO_ERROR
        || hi < 0)
      continue;
    int64_t done = e.offset >= 0 ? e.offset : lo;
    if (auto t = st.trackers.find(e.topic); t != st.trackers.end())
      if (auto next = t->second.committable(e.partition))
        done = *next;
    st.probe.lag(e.topic, e.partition, std::max<int64_t>(0, hi - done));
  }
  rd_kafka_topic_partition_list_destroy(parts);
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
  if (st.outage || n >= st.cfg.max_in_flight)
    set_paused(st, true);
  else if (n <= st.cfg.max_in_flight / 2)
    set_paused(st, false);
  auto now = std::chrono::steady_clock::now();
  if (now - st.last_commit >= st.cfg.commit_interval)
    commit_now(st, true);
  maybe_finish_revoke(st);
  if (now - st.last_lag >= std::chrono::seconds(1)) {
    st.last_lag = now;
    report_lag(st);
  }
  self->send(self, poll_atom::value);
}

} // namespace

consumer_state::~consumer_state() {
  if (rk == nullptr)
    return;
  commit_now(*this, false);
  closing = true;
  if (revoking) {
    revoking->deadline = std::chrono::steady_clock::time_point{};
    maybe_finish_revoke(*this);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  rk = nullptr;
}

caf::behavior kafka_consumer(caf::stateful_actor<consumer_state>* self,
                             consumer_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.probe = consumer_probe{st.cfg.name};
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
  auto routed = st.cfg.routes.topics();
  auto topics
    = rd_kafka_topic_partition_list_new(static_cast<int>(routed.size()));
  for (auto& topic : routed)
    rd_kafka_topic_partition_list_add(topics, topic.c_str(),
                                      RD_KAFKA_PARTITION_UA);
  auto rc = rd_kafka_subscribe(st.rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (rc)
    throw std::runtime_error(std::string{"kafka subscribe: "}
                             + rd_kafka_err2str(rc));
  st.last_commit = std::chrono::steady_clock::now();
  delivery_config dc;
  dc.consumer = st.cfg.name;
  dc.routes = st.cfg.routes;
  dc.dead_letters = st.cfg.dead_letters;
  dc.fallback = st.cfg.dead_letter_fallback;
  dc.retry = st.cfg.retry;
  log::info("consumer",
            "{}: up to {} attempt(s), retries after {} ms x{} "
            "(at most {} ms)",
            st.cfg.name, dc.retry.max_attempts, dc.retry.base.count(),
            dc.retry.factor, dc.retry.cap.count());
  dc.handler_timeout = st.cfg.handler_timeout;
  dc.listener = caf::actor_cast<caf::actor>(self);
  dc.now = [] { return events::now_iso8601(); };
  st.delivery = self->spawn<caf::linked>(delivery, std::move(dc));
  self->send(self, poll_atom::value);
  return {
    [=](poll_atom) { poll_once(self); },
    [=](outage_atom, bool outage) {
      // The store is unreachable: stop fetching (the work in flight keeps
      // retrying) until a write succeeds again.
      self->state.outage = outage;
      set_paused(self->state, outage);
      log::info("consumer", "{}: {} fetching", self->state.cfg.name,
                outage ? "paused" : "resumed");
    },
  };
}

} // namespace troupe
