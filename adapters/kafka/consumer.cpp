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

using parts_list = rd_kafka_topic_partition_list_t;

std::vector<topic_partition> parts_of(const parts_list* parts) {
  std::vector<topic_partition> result;
  for (int i = 0; i < parts->cnt; ++i)
    result.push_back({parts->elems[i].topic, parts->elems[i].partition});
  return result;
}

parts_list* list_of(const std::vector<topic_partition>& parts) {
  auto list = rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()));
  for (auto& tp : parts)
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition);
  return list;
}

void commit_now(consumer_state& st, bool async) {
  auto list = rd_kafka_topic_partition_list_new(8);
  for (auto& [tp, next] : st.core->take_commits())
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition)
      ->offset
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

/// Finishes a revocation: commits what is done, forgets the partitions'
/// remaining work (the next owner gets it redelivered; handlers are
/// idempotent), tells the owner, and hands the partitions back to the group.
void finish_revoke(consumer_state& st,
                   const std::vector<topic_partition>& parts) {
  commit_now(st, false);
  st.core->forget(parts);
  for (auto& tp : parts) {
    // Their retries and timers go too: the next owner has the messages.
    if (st.delivery)
      caf::anon_send(st.delivery, revoke_atom::value, tp.topic, tp.partition);
    st.probe.forget_lag(tp.topic, tp.partition);
  }
  if (st.cfg.on_revoked)
    st.cfg.on_revoked(st.core->first_topic_partitions(parts));
  rd_kafka_assign(st.rk, nullptr);
}

/// Whether the work of a pending revocation is done (or its time is up).
void maybe_finish_revoke(consumer_state& st) {
  bool late = false;
  auto due = st.core->revoke_due(std::chrono::steady_clock::now(), late);
  if (!due)
    return;
  if (late)
    log::warn("consumer", "{}: handing off partitions with work in flight",
              st.cfg.name);
  finish_revoke(st, *due);
}

void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, parts_list* parts,
               void* opaque) {
  auto& st = *static_cast<consumer_state*>(opaque);
  auto tps = parts_of(parts);
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
      st.cfg.on_assigned(st.core->first_topic_partitions(tps));
    return;
  }
  log::info("consumer", "{}: revoked {} partition(s)", st.cfg.name, parts->cnt);
  // Closing, or the store is down (the work in flight cannot commit, and
  // waiting would only hold the group's rebalance): hand off at once.
  if (st.closing || st.outage) {
    finish_revoke(st, tps);
    return;
  }
  // Stop fetching, let the work in flight commit, then hand off (the group
  // waits for the unassign).
  rd_kafka_pause_partitions(rk, parts);
  st.core->revoke(std::move(tps),
                  std::chrono::steady_clock::now() + st.cfg.revoke_grace);
}

void set_paused(consumer_state& st, bool pause) {
  if (st.paused == pause)
    return;
  parts_list* parts = nullptr;
  if (rd_kafka_assignment(st.rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return;
  if (pause) {
    rd_kafka_pause_partitions(st.rk, parts);
  } else {
    // Partitions being revoked stay paused.
    std::vector<topic_partition> resume;
    for (auto& tp : parts_of(parts))
      if (!st.core->revoking(tp))
        resume.push_back(tp);
    auto list = list_of(resume);
    rd_kafka_resume_partitions(st.rk, list);
    rd_kafka_topic_partition_list_destroy(list);
  }
  rd_kafka_topic_partition_list_destroy(parts);
  st.paused = pause;
}

void handle(consumer_ptr self, rd_kafka_message_t* msg) {
  auto& st = self->state;
  if (msg->err) {
    if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
      log::warn("consumer", "{}: {}", st.cfg.name,
                rd_kafka_message_errstr(msg));
    return;
  }
  fetched_message m;
  m.topic = rd_kafka_topic_name(msg->rkt);
  m.partition = msg->partition;
  m.offset = msg->offset;
  if (msg->key)
    m.key.assign(static_cast<const char*>(msg->key), msg->key_len);
  if (msg->payload)
    m.payload.assign(static_cast<const char*>(msg->payload), msg->len);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const void* value = nullptr;
    size_t size = 0;
    if (rd_kafka_header_get_last(hdrs, "traceparent", &value, &size)
          == RD_KAFKA_RESP_ERR_NO_ERROR
        && value != nullptr && size <= 128)
      m.traceparent.assign(static_cast<const char*>(value), size);
  }
  auto job = st.core->accept(std::move(m));
  if (!job)
    return;
  st.probe.consumed(job->topic);
  auto id = job->id;
  self->request(st.delivery, caf::infinite, std::move(*job))
    .then([=](delivery_outcome x) { self->state.core->complete(id, x); },
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
  // A partition that delivered nothing since it was assigned has no
  // position yet: its work is done up to the group's committed offset.
  rd_kafka_topic_partition_list_t* unread = nullptr;
  for (int i = 0; i < parts->cnt; ++i) {
    auto& e = parts->elems[i];
    if (e.offset >= 0)
      continue;
    if (unread == nullptr)
      unread = rd_kafka_topic_partition_list_new(parts->cnt);
    rd_kafka_topic_partition_list_add(unread, e.topic, e.partition);
  }
  if (unread != nullptr) {
    if (rd_kafka_committed(st.rk, unread, 200) == RD_KAFKA_RESP_ERR_NO_ERROR)
      for (int i = 0; i < unread->cnt; ++i)
        if (auto* p = rd_kafka_topic_partition_list_find(
              parts, unread->elems[i].topic, unread->elems[i].partition))
          p->offset = unread->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(unread);
  }
  for (int i = 0; i < parts->cnt; ++i) {
    auto& e = parts->elems[i];
    int64_t lo = 0;
    int64_t hi = 0;
    if (rd_kafka_get_watermark_offsets(st.rk, e.topic, e.partition, &lo, &hi)
          != RD_KAFKA_RESP_ERR_NO_ERROR
        || hi < 0)
      continue;
    int64_t done = e.offset >= 0 ? e.offset : lo;
    if (auto next = st.core->committable({e.topic, e.partition}))
      done = *next;
    st.probe.lag(e.topic, e.partition, std::max<int64_t>(0, hi - done));
  }
  rd_kafka_topic_partition_list_destroy(parts);
}

void poll_once(consumer_ptr self) {
  auto& st = self->state;
  auto busy = st.core->in_flight() > 0;
  for (int i = 0; i < 500; ++i) {
    auto msg = rd_kafka_consumer_poll(st.rk, i == 0 ? (busy ? 1 : 20) : 0);
    if (msg == nullptr)
      break;
    handle(self, msg);
    rd_kafka_message_destroy(msg);
    if (st.core->full())
      break;
  }
  set_paused(st, st.core->pause_wanted(st.outage, st.paused));
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
  // A pending revocation ends now, work in flight or not.
  bool late = false;
  if (auto due = core->revoke_due(std::chrono::steady_clock::time_point::max(),
                                  late))
    finish_revoke(*this, *due);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  rk = nullptr;
}

caf::behavior kafka_consumer(caf::stateful_actor<consumer_state>* self,
                             consumer_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.probe = consumer_probe{st.cfg.name};
  st.core = std::make_unique<consumer_core>(
    st.cfg.routes.topics(),
    st.cfg.decode ? st.cfg.decode : consumer_core::decoder{codec::decode},
    static_cast<size_t>(st.cfg.max_in_flight));
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
