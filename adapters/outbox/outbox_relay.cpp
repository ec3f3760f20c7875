// The outbox relay's SQL and librdkafka calls around its core
// (runtime/relay_core): claim, produce, poll for reports, mark.
#include "adapters/outbox/outbox_relay.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include <caf/event_based_actor.hpp>
#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "actors/messages.hpp"
#include "adapters/kafka/kafka_errors.hpp"
#include "adapters/postgres/connection.hpp"
#include "base/errors.hpp"
#include "observability/log.hpp"
#include "observability/tracing.hpp"

namespace troupe {

namespace {

using relay_ptr = caf::stateful_actor<relay_state>*;

publish_outcome outcome_of(int err) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
    return publish_outcome::published;
  return kafka_refused_for_good(err) ? publish_outcome::refused
                                     : publish_outcome::failed;
}

/// Ends the publish span of row `id`, if it has one.
void finish_span(relay_state& st, int64_t id, bool error) {
  auto i = st.spans.find(id);
  if (i == st.spans.end())
    return;
  auto& s = i->second;
  tracing::finish(s.traceparent, s.parent_span, "publish " + s.topic,
                  tracing::span_kind::producer, s.start,
                  {{"messaging.system", "kafka"},
                   {"messaging.operation", "publish"},
                   {"messaging.destination.name", s.topic},
                   {"messaging.kafka.message.key", s.key},
                   {"troupe.outbox_id", std::to_string(id)}},
                  error);
  st.spans.erase(i);
}

/// Runs inside rd_kafka_poll on the relay's own thread.
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto& st = *static_cast<relay_state*>(opaque);
  auto row = static_cast<int64_t>(reinterpret_cast<intptr_t>(msg->_private));
  if (st.core && st.core->in_flight(row)) {
    st.core->delivered(row, outcome_of(msg->err), static_cast<int>(msg->err));
    finish_span(st, row, msg->err != RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  if (msg->err)
    log::warn("relay", "delivery to {} failed: {}",
              rd_kafka_topic_name(msg->rkt), rd_kafka_err2str(msg->err));
}

/// The Kafka headers of a row. While spans are exported, a row's
/// `traceparent` is replaced by the context of its publish span (`span`).
rd_kafka_headers_t* make_headers(const std::string& text, publish_span& span) {
  auto hdrs = rd_kafka_headers_new(8);
  try {
    auto j = nlohmann::json::parse(text);
    for (auto& [k, v] : j.items()) {
      auto s = v.is_string() ? v.get<std::string>() : v.dump();
      if (k == "traceparent" && tracing::enabled()) {
        auto next = tracing::child(s);
        if (!next.empty()) {
          span.parent_span = tracing::span_id_of(s);
          span.traceparent = next;
          s = std::move(next);
        }
      }
      rd_kafka_header_add(hdrs, k.c_str(), -1, s.data(),
                          static_cast<ssize_t>(s.size()));
    }
  } catch (const std::exception&) {
    // Headers are advisory; a row with broken headers is still published.
  }
  return hdrs;
}

/// Prepares the relay's statements on every new connection. The relay's
/// own commits (marks, attempts) do not wait for the WAL flush: one lost in
/// a PostgreSQL crash only means its rows are published again, which every
/// consumer ignores (and the recovery scan usually marks them first).
void prepare(pqxx::connection& c) {
  {
    pqxx::nontransaction tx{c};
    tx.exec("SET synchronous_commit = off");
  }
  c.prepare("claim", "SELECT id, topic, key, payload, headers::text, key_raw, "
                     "payload_raw, attempts FROM outbox "
                     "WHERE published_at IS NULL AND set_aside_at IS NULL "
                     "AND id <> ALL($2::bigint[]) ORDER BY id LIMIT $1 "
                     "FOR UPDATE SKIP LOCKED");
  c.prepare("failed", "UPDATE outbox SET attempts = attempts + 1, "
                      "last_error = $2, set_aside_at = CASE WHEN $3 "
                      "THEN clock_timestamp() END WHERE id = $1");
  c.prepare("mark", "UPDATE outbox SET published_at = "
                    "clock_timestamp() WHERE id = ANY($1::bigint[]) "
                    "AND published_at IS NULL");
}

bool ensure_connection(relay_ptr self) {
  return self->state.conn->get() != nullptr;
}

/// A PostgreSQL array literal of ids.
std::string id_array(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0)
      out += ',';
    out += std::to_string(ids[i]);
  }
  return out + "}";
}

/// The bytes of a text column, or of its exact-bytes twin when set.
std::string bytes_of(const pqxx::field& text, const pqxx::field& raw) {
  if (raw.is_null())
    return text.as<std::string>();
  pqxx::binarystring b{raw};
  return b.str();
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::steady_clock::now() - t0)
           .count()
         / 1000.0;
}

/// Claims a batch on `slot`'s connection and produces what the core lets
/// through. Returns how many rows the claim found.
size_t claim(relay_ptr self, relay_slot& slot, size_t limit) {
  auto& st = self->state;
  auto t0 = std::chrono::steady_clock::now();
  auto excluded = st.core->excluded(t0);
  slot.tx = std::make_unique<pqxx::work>(*slot.conn->get());
  auto rows = slot.tx->exec_prepared("claim", limit, id_array(excluded));
  if (rows.empty()) {
    slot.tx->commit();
    slot.tx.reset();
    return 0;
  }
  struct claimed_row {
    std::string key;
    std::string payload;
    std::string headers;
  };
  std::vector<relay_row> claimed;
  std::unordered_map<int64_t, claimed_row> data;
  claimed.reserve(rows.size());
  for (const auto& row : rows) {
    relay_row r;
    r.id = row[0].as<int64_t>();
    r.topic = row[1].as<std::string>();
    r.key = row[2].as<std::string>();
    r.attempts = row[7].as<int32_t>();
    data[r.id] = {bytes_of(row[2], row[5]), bytes_of(row[3], row[6]),
                  row[4].as<std::string>()};
    claimed.push_back(std::move(r));
  }
  auto t1 = std::chrono::steady_clock::now();
  auto started = st.core->start(std::move(claimed), t1);
  slot.batch = started.id;
  slot.claimed_at = t0;
  auto produced_from = std::chrono::system_clock::now();
  for (auto& r : started.produce) {
    auto& d = data[r.id];
    publish_span span;
    auto hdrs = make_headers(d.headers, span);
    auto row_id = std::to_string(r.id);
    rd_kafka_header_add(hdrs, "troupe.outbox_id", -1, row_id.data(),
                        static_cast<ssize_t>(row_id.size()));
    if (!span.traceparent.empty()) {
      span.start = produced_from;
      span.topic = r.topic;
      span.key = r.key;
      st.spans[r.id] = std::move(span);
    }
    auto err = rd_kafka_producev(
      st.producer, RD_KAFKA_V_TOPIC(r.topic.c_str()),
      RD_KAFKA_V_KEY(d.key.data(), d.key.size()),
      RD_KAFKA_V_VALUE(d.payload.data(), d.payload.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<intptr_t>(r.id))),
      RD_KAFKA_V_END);
    if (err) {
      rd_kafka_headers_destroy(hdrs);
      st.core->delivered(r.id, outcome_of(err), static_cast<int>(err));
      finish_span(st, r.id, true);
      log::warn("relay", "produce to {} failed: {}", r.topic,
                rd_kafka_err2str(err));
    }
  }
  if (log::enabled(spdlog::level::trace))
    log::trace("relay",
               "batch {}: {} rows claimed in {} ms, {} produced in {} ms, {} "
               "deferred behind their key; {} rows in flight",
               started.id, rows.size(), ms_since(t0) - ms_since(t1),
               started.produce.size(), ms_since(t1), started.deferred.size(),
               st.core->rows_in_flight());
  return rows.size();
}

/// Marks a settled batch in its slot's transaction: published rows, and
/// each failed row's attempt (setting it aside when its budget is spent).
void mark(relay_state& st, relay_slot* slot, const settled_batch& b) {
  auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, double> per_topic;
  for (auto& r : b.rows) {
    if (r.timed_out)
      finish_span(st, r.row.id, true);
    if (r.outcome == publish_outcome::published)
      per_topic[r.row.topic] += 1;
  }
  auto done = b.published();
  try {
    std::unique_ptr<pqxx::work> tx;
    if (slot != nullptr && slot->tx)
      tx = std::move(slot->tx);
    else if (auto c = (slot != nullptr ? slot->conn : st.conn)->get())
      // The claim's transaction was lost: mark in a new one (the rows may
      // be claimed and published again meanwhile; consumers are idempotent).
      tx = std::make_unique<pqxx::work>(*c);
    if (tx) {
      if (!done.empty())
        tx->exec_prepared("mark", id_array(done));
      for (auto& r : b.rows) {
        if (!r.spent)
          continue;
        auto err = r.timed_out ? static_cast<int>(RD_KAFKA_RESP_ERR__TIMED_OUT)
                               : r.error;
        auto cause = describe(classify_produce(err));
        tx->exec_prepared("failed", r.row.id, cause, r.set_aside);
        if (r.set_aside) {
          log::error("relay", "outbox row {} for {} set aside: {}", r.row.id,
                     r.row.topic, cause);
          st.probe.set_aside(r.row.topic);
        }
      }
      tx->commit();
    }
  } catch (const std::exception& e) {
    // Unmarked rows are published again later; consumers are idempotent.
    log::warn("relay", "marking batch {} failed: {}", b.id, e.what());
    if (slot != nullptr && !slot->conn->is_open())
      slot->conn->reset();
  }
  if (log::enabled(spdlog::level::trace) && slot != nullptr)
    log::trace("relay",
               "batch {}: {} of {} rows published, settled {} ms after its "
               "claim, marked in {} ms",
               b.id, done.size(), b.rows.size(),
               ms_since(slot->claimed_at) - ms_since(t0), ms_since(t0));
  if (slot != nullptr) {
    slot->tx.reset();
    slot->batch = 0;
  }
  // Keys this batch held are free again: rows deferred behind them may be
  // claimed now.
  st.more = true;
  for (auto& [topic, count] : per_topic)
    st.probe.produced(topic, count);
  st.published += done.size();
  if (b.outage) {
    // Nothing went through (brokers down?): claim nothing for a while, then
    // retry the rows that are still unpublished.
    st.paused_until = std::chrono::steady_clock::now() + st.backoff;
    st.backoff = std::min(st.backoff * 2, std::chrono::milliseconds{5000});
    st.more = true;
  } else if (!done.empty()) {
    st.backoff = std::chrono::milliseconds{100};
  }
}

/// Marks every batch whose rows are all settled.
void settle(relay_state& st) {
  while (auto b = st.core->take_settled(std::chrono::steady_clock::now())) {
    relay_slot* slot = nullptr;
    for (auto& s : st.slots)
      if (s.batch == b->id)
        slot = &s;
    mark(st, slot, *b);
  }
}

} // namespace

relay_state::~relay_state() {
  if (producer) {
    // Wait for the reports of what is in flight and mark what they settle;
    // batches still open are rolled back, and their rows published again
    // after a restart (the recovery scan finds most of them on Kafka).
    rd_kafka_flush(producer, 5000);
    if (core)
      settle(*this);
  }
  slots.clear();
  listener.reset();
  conn.reset();
  if (producer)
    rd_kafka_destroy(producer);
}

namespace {

/// A relay that died between Kafka's acknowledgement and its commit left
/// rows that are on Kafka but not marked published. Before publishing
/// anything, look for them at the tail of their partitions (by the
/// `troupe.outbox_id` header) and mark them, so a restart does not publish
/// them twice.
void recover(relay_ptr self) {
  auto& st = self->state;
  std::map<std::string, int64_t> lowest; // topic -> lowest unpublished id
  {
    pqxx::work tx{*st.conn->get()};
    for (const auto& row : tx.exec(
           "SELECT topic, min(id) FROM outbox WHERE "
           "published_at IS NULL AND set_aside_at IS NULL GROUP BY topic"))
      lowest[row[0].as<std::string>()] = row[1].as<int64_t>();
    tx.commit();
  }
  if (lowest.empty())
    return;
  auto conf = make_conf(st.cfg.kafka);
  set_conf(conf, "group.id", "troupe-relay-recovery");
  set_conf(conf, "enable.auto.commit", "false");
  set_conf(conf, "enable.partition.eof", "true");
  char err[512];
  auto rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return;
  }
  auto parts = rd_kafka_topic_partition_list_new(64);
  size_t open = 0;
  for (auto& [topic, low] : lowest) {
    auto t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, 0, t, &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int p = 0; md->topic_cnt == 1 && p < md->topics[0].partition_cnt;
           ++p) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi,
                                             1000)
              != RD_KAFKA_RESP_ERR_NO_ERROR
            || hi <= lo)
          continue;
        rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset
          = std::max(lo, hi
                           - (st.cfg.in_flight_batches + 1)
                               * static_cast<int64_t>(st.cfg.batch));
        ++open;
      }
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
  }
  std::string ids = "{";
  size_t found = 0;
  if (open > 0) {
    rd_kafka_assign(rk, parts);
    // Bounded: publishing waits for this scan, and a partition that never
    // reports its end must not hold everything back. What the scan misses
    // is published again (consumers are idempotent).
    auto deadline = std::chrono::steady_clock::now() + st.cfg.recovery_budget;
    while (open > 0 && std::chrono::steady_clock::now() < deadline) {
      auto msg = rd_kafka_consumer_poll(rk, 100);
      if (msg == nullptr)
        continue;
      if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        --open;
      } else if (!msg->err) {
        rd_kafka_headers_t* hdrs = nullptr;
        const void* val = nullptr;
        size_t size = 0;
        if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR
            && rd_kafka_header_get_last(hdrs, "troupe.outbox_id", &val, &size)
                 == RD_KAFKA_RESP_ERR_NO_ERROR) {
          // Someone else's header may hold anything: only a number counts.
          std::string_view text{static_cast<const char*>(val), size};
          int64_t id = 0;
          auto [end, ec] = std::from_chars(text.data(), text.data() + size, id);
          auto low = lowest.find(rd_kafka_topic_name(msg->rkt));
          if (ec == std::errc{} && end == text.data() + size
              && low != lowest.end() && id >= low->second) {
            if (found++ > 0)
              ids += ',';
            ids += std::to_string(id);
          }
        }
      }
      rd_kafka_message_destroy(msg);
    }
  }
  ids += '}';
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (found > 0) {
    pqxx::work tx{*st.conn->get()};
    auto r = tx.exec_prepared("mark", ids);
    tx.commit();
    log::info("relay", "recovered {} row(s) already on Kafka",
              r.affected_rows());
  }
}

/// A slot free for the next batch, with its connection open; nullptr when
/// there is none.
relay_slot* free_slot(relay_state& st) {
  for (auto& s : st.slots)
    if (s.batch == 0 && !s.tx && s.conn->get() != nullptr)
      return &s;
  return nullptr;
}

/// Claims and produces while the window has room and rows may be waiting.
void fill(relay_ptr self) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  if (now < st.paused_until)
    return;
  if (now - st.last_claim >= st.cfg.idle_poll)
    st.more = true; // the fallback poll
  while (st.more && st.core->claim_due(std::chrono::steady_clock::now())) {
    auto limit = st.core->claim_limit();
    auto slot = limit > 0 ? free_slot(st) : nullptr;
    if (slot == nullptr)
      return;
    try {
      auto n = claim(self, *slot, limit);
      st.last_claim = std::chrono::steady_clock::now();
      if (n < limit)
        st.more = false; // all there is for now
    } catch (...) {
      slot->tx.reset();
      if (slot->batch == 0 && !slot->conn->is_open())
        slot->conn->reset();
      throw;
    }
  }
}

/// Waits for what comes next: delivery reports while batches are in
/// flight, a NOTIFY (or the fallback poll) when there is nothing to do.
void wait(relay_ptr self) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  if (st.core->idle()) {
    if (now < st.paused_until) {
      self->delayed_send(self, st.paused_until - now, poll_atom::value);
      return;
    }
    if (!st.more) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  st.cfg.idle_poll)
                  .count();
      st.conn->get()->await_notification(us / 1000000, us % 1000000);
      st.more = true; // notified, or the fallback poll
    }
  } else {
    rd_kafka_poll(st.producer, 1);
    if (auto c = st.conn->get(); c != nullptr && c->get_notifs() > 0)
      st.more = true;
  }
  self->send(self, poll_atom::value);
}

void cycle(relay_ptr self) {
  auto& st = self->state;
  if (!ensure_connection(self)) {
    rd_kafka_poll(st.producer, 0);
    settle(st);
    self->delayed_send(self, st.backoff, poll_atom::value);
    st.backoff = std::min(st.backoff * 2, std::chrono::milliseconds{5000});
    return;
  }
  try {
    if (!st.recovered) {
      recover(self);
      st.recovered = true;
    }
    rd_kafka_poll(st.producer, 0);
    settle(st);
    fill(self);
    wait(self);
    return;
  } catch (const pqxx::broken_connection& e) {
    log::warn("relay", "PostgreSQL connection lost: {}", e.what());
    if (!st.conn->is_open())
      st.conn->reset();
  } catch (const std::exception& e) {
    log::warn("relay", "cycle failed: {}", e.what());
    if (!st.conn->is_open())
      st.conn->reset();
  }
  st.paused_until = std::chrono::steady_clock::now() + st.backoff;
  st.backoff = std::min(st.backoff * 2, std::chrono::milliseconds{5000});
  st.more = true;
  rd_kafka_poll(st.producer, 0);
  self->send(self, poll_atom::value);
}

} // namespace

caf::behavior outbox_relay(caf::stateful_actor<relay_state>* self,
                           relay_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.cfg.in_flight_batches = std::max(st.cfg.in_flight_batches, 1);
  st.conn = std::make_unique<pg_connection>(
    st.cfg.pg_url, "relay",
    [&st](pqxx::connection& c) {
      st.listener = std::make_unique<outbox_listener>(c);
      prepare(c);
    },
    [&st](pqxx::connection&) { st.listener.reset(); });
  st.slots.resize(static_cast<size_t>(st.cfg.in_flight_batches));
  for (auto& s : st.slots)
    s.conn = std::make_unique<pg_connection>(
      st.cfg.pg_url, "relay", [](pqxx::connection& c) { prepare(c); });
  relay_core::settings core;
  core.batch = static_cast<size_t>(std::max(st.cfg.batch, 1));
  core.max_batches = st.slots.size();
  core.max_rows_in_flight = core.batch * core.max_batches;
  core.max_attempts = st.cfg.max_attempts;
  core.delivery_deadline = st.cfg.delivery_timeout + std::chrono::seconds(1);
  st.core = std::make_unique<relay_core>(core);
  std::string why;
  st.producer = make_producer(
    st.cfg.kafka,
    {{"linger.ms", "1"},
     {"partitioner", "murmur2_random"},
     {"message.timeout.ms", std::to_string(st.cfg.delivery_timeout.count())}},
    &st, on_delivery, why);
  if (st.producer == nullptr)
    throw std::runtime_error("kafka producer: " + why);
  self->send(self, poll_atom::value);
  return {
    [=](poll_atom) { cycle(self); },
  };
}

} // namespace troupe
