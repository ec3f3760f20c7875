// What the outbox relay decides between claiming rows and marking them, with
// no Kafka or SQL client in it: shared by the production relay
// (adapters/outbox/outbox_relay.cpp: SQL claims and marks, librdkafka
// produce and delivery reports) and the simulated one (apps/troupe-sim), so
// both run the same logic.
//
//   claim_limit, excluded ──▶ claim (SQL, or the in-memory outbox)
//   start(claimed rows) ──▶ the rows to produce now (the others deferred)
//   delivered(id, outcome) ◀── delivery report of one row
//   take_settled ──▶ a batch whose every row is settled: rows to mark
//                    published, rows that spent an attempt (set aside, or
//                    retried after their backoff), or an outage
//
// Pipelined: batches are claimed and produced while earlier ones are still
// in flight, up to `max_batches` batches and `max_rows_in_flight` rows; a
// claim that found less than it could take is followed by the next one
// `claim_spacing` later (`claim_due`), so a steady trickle of rows is not
// claimed one small transaction at a time.
// Ordering: at most one row of a (topic, key) is in flight or waiting for
// its retry at a time. A later row of that key is deferred (not produced;
// claimable again once the earlier one is published or set aside), so a row
// whose delivery failed is never overtaken by a later row of its key, in
// one batch or across batches. Rows of one key in flight at once would
// depend on the producer never leaving a gap (librdkafka's idempotent
// producer does leave one when a message times out).
//
// Outage: a batch in which nothing was published and nothing was refused
// for good failed for no row's fault (the brokers are unreachable): no
// attempt is spent, its rows are claimable again, and the caller backs off.
//
// Time is passed in. Owned by one relay actor; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace troupe {

/// A claimed outbox row, as far as the relay's decisions need it.
struct relay_row {
  int64_t id = 0;
  std::string topic;
  std::string key;
  int32_t attempts = 0; ///< failed produce attempts before this one
  friend bool operator==(const relay_row& x, const relay_row& y) {
    return x.id == y.id && x.topic == y.topic && x.key == y.key
           && x.attempts == y.attempts;
  }
};

/// How the delivery of one row ended.
enum class publish_outcome : uint8_t {
  pending,   ///< no report yet
  published, ///< acknowledged by Kafka
  failed,    ///< not taken; a retry may help (timeout, brokers down)
  refused,   ///< Kafka refuses it for good (too large, invalid topic)
};

/// One produced row of a settled batch.
struct relay_report {
  relay_row row;
  publish_outcome outcome = publish_outcome::pending;
  int error = 0;          ///< the client's error code, passed through
  bool timed_out = false; ///< no report came before the batch's deadline
  bool spent = false;     ///< an attempt was spent: record it
  bool set_aside = false; ///< its publish budget is used up
};

struct settled_batch {
  uint64_t id = 0;
  std::vector<relay_report> rows; ///< every produced row, in claim order
  bool outage = false;            ///< nothing went through, no row's fault

  /// The ids to mark published.
  std::vector<int64_t> published() const;
};

/// The rows of a claim to produce now.
struct started_batch {
  uint64_t id = 0;
  std::vector<relay_row> produce;
  std::vector<int64_t> deferred; ///< a row of their key is still open
};

class relay_core {
public:
  using clock = std::chrono::steady_clock;

  struct settings {
    size_t batch = 500;               ///< rows per claim
    size_t max_batches = 3;           ///< batches in flight at once
    size_t max_rows_in_flight = 1500; ///< rows in flight at once
    /// Produce attempts of one row before it is set aside (a row that
    /// keeps failing while others go through).
    int32_t max_attempts = 5;
    /// Backoff of a failed row: base * 2^attempts, at most `retry_cap`.
    std::chrono::milliseconds retry_base{100};
    std::chrono::milliseconds retry_cap{5000};
    /// A batch's rows without a report this long after `start` count as
    /// failed (the producer's own timeout should have reported them).
    std::chrono::milliseconds delivery_deadline{11000};
    /// While batches are in flight, a claim that was not full is followed
    /// by the next one no sooner than this: rows committed meanwhile go
    /// out together instead of in one small transaction each.
    std::chrono::milliseconds claim_spacing{5};
  };

  explicit relay_core(settings cfg);

  /// How many rows to claim now: 0 while the window is full.
  size_t claim_limit() const;

  /// Whether to claim now (given room in the window): at once when nothing
  /// is in flight or the last claim was full, else `claim_spacing` after
  /// the last claim.
  bool claim_due(clock::time_point now) const;

  /// Rows the next claim must skip: rows waiting for their retry and rows
  /// deferred behind an open row of their key. Rows whose wait is over
  /// become claimable again. (Rows in flight are not listed: the claim's
  /// row locks keep them out in production; see `in_flight`.)
  std::vector<int64_t> excluded(clock::time_point now);

  /// A claim's rows, in id order: the batch they become, and which of them
  /// to produce now. Each produced row needs a `delivered` report.
  started_batch start(std::vector<relay_row> claimed, clock::time_point now);

  /// The delivery report of row `id`; reports for rows not in flight (a
  /// late report of a batch settled at its deadline) are ignored.
  void delivered(int64_t id, publish_outcome x, int error = 0);

  /// A batch whose every row is settled, or whose deadline passed; batches
  /// settle in any order.
  std::optional<settled_batch> take_settled(clock::time_point now);

  /// Whether row `id` is in flight (produced, not settled).
  bool in_flight(int64_t id) const {
    return by_id_.count(id) > 0;
  }

  /// Whether nothing is in flight.
  bool idle() const {
    return batches_.empty();
  }

  size_t rows_in_flight() const {
    return rows_in_flight_;
  }

  size_t batches_in_flight() const {
    return batches_.size();
  }

  /// Rows waiting for their retry.
  size_t retrying() const {
    return retry_.size();
  }

  const settings& config() const {
    return cfg_;
  }

private:
  struct open_batch {
    std::vector<relay_report> rows;
    size_t pending = 0;
    clock::time_point deadline;
  };
  struct waiting_row {
    clock::time_point at;
    std::string key; ///< its (topic, key)
  };

  static std::string key_of(const relay_row& r);
  void release_key(const std::string& k);
  settled_batch settle(uint64_t id, open_batch& b);

  settings cfg_;
  std::map<uint64_t, open_batch> batches_;
  /// Row id -> its batch and index in it, while in flight.
  std::unordered_map<int64_t, std::pair<uint64_t, size_t>> by_id_;
  /// (topic, key) -> its open row (in flight or waiting for its retry).
  std::unordered_map<std::string, int64_t> open_keys_;
  std::map<int64_t, waiting_row> retry_;    ///< by row id
  std::map<int64_t, std::string> deferred_; ///< row id -> its key
  size_t rows_in_flight_ = 0;
  uint64_t next_batch_ = 1;
  clock::time_point last_start_;
  bool last_full_ = false; ///< the last claim found as many rows as allowed
};

} // namespace troupe
