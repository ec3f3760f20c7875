// The outbox relay's claim/produce/mark cycle.
#include "adapters/outbox/outbox_relay.hpp"

#include <charconv>
#include <map>
#include <stdexcept>
#include <string_view>

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

relay_state::~relay_state() {
  listener.reset();
  conn.reset();
  if (producer) {
    rd_kafka_flush(producer, 5000);
    rd_kafka_destroy(producer);
  }
}

namespace {

using relay_ptr = caf::stateful_actor<relay_state>*;

/// Runs inside rd_kafka_poll on the relay's own thread.
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto& st = *static_cast<relay_state*>(opaque);
  auto row = static_cast<int64_t>(reinterpret_cast<intptr_t>(msg->_private));
  auto i = st.delivered.find(row);
  if (i != st.delivered.end() && i->second == relay_state::pending) {
    i->second = static_cast<int>(msg->err);
    --st.outstanding;
  }
  if (msg->err)
    log::warn("relay", "delivery to {} failed: {}",
              rd_kafka_topic_name(msg->rkt), rd_kafka_err2str(msg->err));
}

/// A row's publish span: its context (sent in the `traceparent` header)
/// and the span id of the step that wrote the row.
struct publish_span {
  std::string traceparent;
  std::string parent_span;
};

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

/// Prepares the relay's statements and listens for new outbox rows on
/// every new connection.
void set_up(relay_state& st, pqxx::connection& c) {
  st.listener = std::make_unique<outbox_listener>(c);
  c.prepare("claim", "SELECT id, topic, key, payload, headers::text, key_raw, "
                     "payload_raw, attempts FROM outbox "
                     "WHERE published_at IS NULL AND set_aside_at IS NULL "
                     "AND id <> ALL($2::bigint[]) ORDER BY id LIMIT $1 "
                     "FOR UPDATE SKIP LOCKED");
  c.prepare("failed", "UPDATE outbox SET attempts = attempts + 1, "
                      "last_error = $2, set_aside_at = CASE WHEN attempts + 1 "
                      ">= $3 OR $4 THEN clock_timestamp() END "
                      "WHERE id = $1 RETURNING set_aside_at IS NOT NULL");
  c.prepare("mark", "UPDATE outbox SET published_at = "
                    "clock_timestamp() WHERE id = ANY($1::bigint[]) "
                    "AND published_at IS NULL");
}

bool ensure_connection(relay_ptr self) {
  return self->state.conn->get() != nullptr;
}

struct batch_result {
  size_t published = 0;
  size_t failed = 0;   ///< rows Kafka did not take
  bool outage = false; ///< nothing went through: brokers unreachable?
};

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

/// Claims, produces and marks one batch.
batch_result publish_batch(relay_ptr self) {
  auto& st = self->state;
  auto t0 = std::chrono::steady_clock::now();
  pqxx::work tx{*st.conn->get()};
  // Rows that failed recently wait for their own backoff, not the batch.
  std::vector<int64_t> waiting;
  auto now = std::chrono::steady_clock::now();
  for (auto i = st.retry_at.begin(); i != st.retry_at.end();) {
    if (i->second <= now) {
      i = st.retry_at.erase(i);
    } else {
      waiting.push_back(i->first);
      ++i;
    }
  }
  auto rows = tx.exec_prepared("claim", st.cfg.batch, id_array(waiting));
  if (rows.empty())
    return {};
  auto t1 = std::chrono::steady_clock::now();
  auto published_from = std::chrono::system_clock::now();
  st.delivered.clear();
  st.outstanding = 0;
  std::vector<publish_span> spans(rows.size());
  size_t row_index = 0;
  for (const auto& row : rows) {
    auto& span = spans[row_index++];
    auto id = row[0].as<int64_t>();
    auto topic = row[1].as<std::string>();
    auto key = bytes_of(row[2], row[5]);
    auto payload = bytes_of(row[3], row[6]);
    auto hdrs = make_headers(row[4].as<std::string>(), span);
    auto row_id = std::to_string(id);
    rd_kafka_header_add(hdrs, "troupe.outbox_id", -1, row_id.data(),
                        static_cast<ssize_t>(row_id.size()));
    st.delivered[id] = relay_state::pending;
    auto err = rd_kafka_producev(
      st.producer, RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(payload.data(), payload.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<intptr_t>(id))),
      RD_KAFKA_V_END);
    if (err) {
      rd_kafka_headers_destroy(hdrs);
      st.delivered[id] = static_cast<int>(err);
      log::warn("relay", "produce to {} failed: {}", topic,
                rd_kafka_err2str(err));
    } else {
      ++st.outstanding;
    }
  }
  auto deadline = std::chrono::steady_clock::now() + st.cfg.delivery_timeout
                  + std::chrono::seconds(1);
  auto t2 = std::chrono::steady_clock::now();
  while (st.outstanding > 0 && std::chrono::steady_clock::now() < deadline)
    rd_kafka_poll(st.producer, 5);
  auto t3 = std::chrono::steady_clock::now();
  std::vector<int64_t> done;
  std::vector<std::pair<size_t, int>> failures; // row index, error
  std::map<std::string, double> per_topic;
  bool any_refused_for_good = false;
  for (size_t i = 0; i < rows.size(); ++i) {
    auto state = st.delivered[rows[i][0].as<int64_t>()];
    if (!spans[i].traceparent.empty())
      tracing::finish(spans[i].traceparent, spans[i].parent_span,
                      "publish " + rows[i][1].as<std::string>(),
                      tracing::span_kind::producer, published_from,
                      {{"messaging.system", "kafka"},
                       {"messaging.operation", "publish"},
                       {"messaging.destination.name",
                        rows[i][1].as<std::string>()},
                       {"messaging.kafka.message.key",
                        rows[i][2].as<std::string>()},
                       {"troupe.outbox_id", rows[i][0].as<std::string>()}},
                      state != RD_KAFKA_RESP_ERR_NO_ERROR);
    if (state == RD_KAFKA_RESP_ERR_NO_ERROR) {
      done.push_back(rows[i][0].as<int64_t>());
      per_topic[rows[i][1].as<std::string>()] += 1;
    } else {
      auto err = state == relay_state::pending
                   ? static_cast<int>(RD_KAFKA_RESP_ERR__TIMED_OUT)
                   : state;
      any_refused_for_good |= kafka_refused_for_good(err);
      failures.emplace_back(i, err);
    }
  }
  auto n = done.size();
  if (n > 0)
    tx.exec_prepared("mark", id_array(done));
  // Nothing went through and nothing was refused for good: the brokers are
  // unreachable, and that is no row's fault. Otherwise each failed row
  // spends one attempt, and a row that Kafka refuses for good, or that
  // keeps failing while others go through, is set aside with its cause.
  bool outage = n == 0 && !any_refused_for_good;
  if (!outage) {
    for (auto& [i, err] : failures) {
      auto id = rows[i][0].as<int64_t>();
      auto topic = rows[i][1].as<std::string>();
      auto cause = describe(classify_produce(err));
      auto r = tx.exec_prepared1("failed", id, cause, st.cfg.max_attempts,
                                 kafka_refused_for_good(err)
                                   && rows[i][7].as<int32_t>() + 1
                                        >= std::min(2, st.cfg.max_attempts));
      if (r[0].as<bool>()) {
        log::error("relay", "outbox row {} for {} set aside: {}", id, topic,
                   cause);
        st.probe.set_aside(topic);
        st.retry_at.erase(id);
      } else {
        auto tries = rows[i][7].as<int32_t>() + 1;
        st.retry_at[id] = std::chrono::steady_clock::now()
                          + std::min(std::chrono::milliseconds{5000},
                                     std::chrono::milliseconds{100}
                                       * (1 << std::min(tries, 6)));
      }
    }
  }
  tx.commit();
  for (auto& [topic, count] : per_topic)
    st.probe.produced(topic, count);
  auto t4 = std::chrono::steady_clock::now();
  if (log::enabled(spdlog::level::trace)) {
    auto ms = [](auto d) {
      return std::chrono::duration_cast<std::chrono::microseconds>(d).count()
             / 1000.0;
    };
    log::trace("relay",
               "{} rows: claim {} ms, produce {} ms, acks {} ms, "
               "mark {} ms",
               rows.size(), ms(t1 - t0), ms(t2 - t1), ms(t3 - t2), ms(t4 - t3));
  }
  st.published += n;
  return {n, rows.size() - n, outage};
}

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
          = std::max(lo, hi - 2 * static_cast<int64_t>(st.cfg.batch));
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

void cycle(relay_ptr self) {
  auto& st = self->state;
  if (!ensure_connection(self)) {
    self->delayed_send(self, st.backoff, poll_atom::value);
    st.backoff = std::min(st.backoff * 2, std::chrono::milliseconds{5000});
    return;
  }
  try {
    if (!st.recovered) {
      recover(self);
      st.recovered = true;
    }
    auto res = publish_batch(self);
    if (res.outage) {
      // Kafka did not take everything (brokers down?): back off, then retry
      // the rows that are still unpublished.
      self->delayed_send(self, st.backoff, poll_atom::value);
      st.backoff = std::min(st.backoff * 2, std::chrono::milliseconds{5000});
      return;
    }
    st.backoff = std::chrono::milliseconds{100};
    if (res.published > 0) {
      // More may have been committed meanwhile: claim again right away.
      rd_kafka_poll(st.producer, 0);
      self->send(self, poll_atom::value);
      return;
    }
    // Idle: sleep until a commit notifies us, or the fallback poll fires.
    auto us
      = std::chrono::duration_cast<std::chrono::microseconds>(st.cfg.idle_poll)
          .count();
    st.conn->get()->await_notification(us / 1000000, us % 1000000);
  } catch (const pqxx::broken_connection& e) {
    log::warn("relay", "PostgreSQL connection lost: {}", e.what());
    st.conn->reset();
  } catch (const std::exception& e) {
    log::warn("relay", "cycle failed: {}", e.what());
    if (!st.conn->is_open())
      st.conn->reset();
    self->delayed_send(self, st.backoff, poll_atom::value);
    st.backoff = std::min(st.backoff * 2, std::chrono::milliseconds{5000});
    return;
  }
  rd_kafka_poll(st.producer, 0);
  self->send(self, poll_atom::value);
}

} // namespace

caf::behavior outbox_relay(caf::stateful_actor<relay_state>* self,
                           relay_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.conn = std::make_unique<pg_connection>(
    st.cfg.pg_url, "relay", [&st](pqxx::connection& c) { set_up(st, c); },
    [&st](pqxx::connection&) { st.listener.reset(); });
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
