// Delivery of consumed messages to their handlers: retries with backoff,
// dead letters, and outage detection. One per consumer.
//
//   [kafka consumer] ──delivery_job──▶ [delivery] ──request──▶ handler (service, router)
//          ▲                              │  error: retry after backoff + jitter
//          │                              │         (a delayed message, never a sleep)
//          │                              │  malformed, final error or budget spent:
//          │                              └──dead_letter──▶ [dead-letter port]
//          └──── delivery_outcome (after the handler's or the dead letter's commit)
//          └──── (outage_atom, bool): the store is unreachable / back
//
// What happens after a failure depends only on the error's tier
// (actors/errors.hpp `tier_of`):
//   outage      wait (probing at most `outage_probe` apart), spend nothing,
//               tell the consumer to stop fetching
//   retry       spend one attempt of `retry.max-attempts`, back off
//   final       dead-letter now
//   handed_off  the message's partition moved to another node: drop the job
//               (outcome `handed_off`: its offset is not committed here)
//
// The dead-letter write itself may fail. An outage waits as above; anything
// else (PostgreSQL refused the row, or the budget of retries ran out) sends
// the message's `.dlq` copy straight to Kafka through `fallback`, counted as
// troupe_dead_letters_direct_total. Should Kafka refuse that too, the message
// is logged with its coordinates and counted as troupe_dead_letters_dropped_total:
// no path retries forever in silence.
//
// An outage of the store (storage_unavailable, commit_unknown, unavailable)
// is not the message's fault: it retries (at most `outage_probe` apart)
// without spending its budget, and the consumer is told to stop fetching.
// The first write that succeeds again ends the outage: every job waiting it
// out is tried at once, and the consumer fetches again. Everything else retryable spends one attempt of
// `retry.max-attempts`; a non-retryable error dead-letters at once.
//
// Owned by the consumer that spawns it (linked); runs on CAF's scheduler.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/message.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/messages.hpp"
#include "actors/store.hpp"
#include "runtime/backoff.hpp"
#include "runtime/delivery_probe.hpp"
#include "runtime/event_routes.hpp"

namespace troupe {

using outage_atom = caf::atom_constant<caf::atom("outage")>;

/// One consumed message. `event` holds the decoded event; when decoding
/// failed it is empty and `malformed` says why.
struct delivery_job {
  uint64_t id = 0;
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string payload;
  std::string correlation_id;
  std::string malformed;
  caf::message event;
  /// The W3C trace context of this step's span (a child of the message's
  /// `traceparent` header; the decoded event carries it too) and the span
  /// id of its parent. Empty when the message carries no trace context.
  std::string traceparent;
  std::string parent_span;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_job& x) {
  return f(caf::meta::type_name("delivery_job"), x.id, x.topic, x.partition,
           x.offset, x.key, x.payload, x.correlation_id, x.malformed,
           x.traceparent, x.parent_span);
}

/// How a job ended.
enum class delivery_outcome : uint8_t {
  handled,       ///< the handler committed its effect (or found a duplicate)
  dead_lettered, ///< recorded as a dead letter (or sent to `.dlq` directly)
  handed_off,    ///< another node owns it now: do not commit its offset
};

inline std::string to_string(delivery_outcome x) {
  switch (x) {
    case delivery_outcome::handled:
      return "handled";
    case delivery_outcome::dead_lettered:
      return "dead_lettered";
    default:
      return "handed_off";
  }
}

/// `(revoke_atom, topic, partition)`: the consumer lost the partition and
/// forgot its jobs; delivery drops them too (retries, timers, memory).
using delivery_actor
  = caf::typed_actor<caf::replies_to<delivery_job>::with<delivery_outcome>,
                     caf::reacts_to<retry_atom, uint64_t, uint64_t>,
                     caf::reacts_to<revoke_atom, std::string, int32_t>>;

struct delivery_config {
  std::string consumer; ///< name in dead letters, metrics and logs
  event_routes routes;  ///< topic -> handler
  dead_letter_actor dead_letters;
  /// Where a dead letter goes when the store refuses it: straight to Kafka.
  dead_letter_fallback_actor fallback;
  retry_policy retry;
  std::chrono::milliseconds handler_timeout{30000};
  /// Longest wait between two tries while the store is unreachable.
  std::chrono::milliseconds outage_probe{1000};
  /// Told `(outage_atom, bool)` when the store becomes unreachable / back.
  caf::actor listener;
  /// Uniform random numbers in [0, 1) for jitter; tests make it fixed.
  std::function<double()> unit;
  /// Current time as ISO-8601 text; tests use a fake clock.
  std::function<std::string()> now;
};

struct pending_job {
  delivery_job job;
  caf::typed_response_promise<delivery_outcome> promise;
  int32_t attempts = 0;        ///< attempts that count against the budget
  int32_t outage_waits = 0;    ///< retries spent waiting out an outage
  bool dead_lettering = false; ///< retries repeat the dead-letter write
  bool direct = false;         ///< retries repeat the direct write to Kafka
  int32_t dead_letter_attempts = 0; ///< failed dead-letter writes (no outage)
  bool waiting_out_outage = false;  ///< the last try hit a store outage
  uint64_t timer = 0; ///< the retry that counts; older ones are ignored
  std::string first_failure;
  std::string last_error;
  /// When the job arrived (wall clock): the start of its span.
  std::chrono::system_clock::time_point started;
};

struct delivery_state {
  static inline const char* name = "delivery";
  delivery_config cfg;
  std::unordered_map<uint64_t, pending_job> jobs;
  bool outage = false;
  delivery_probe probe; ///< for the group `cfg.consumer`
};

using delivery_ptr = delivery_actor::stateful_pointer<delivery_state>;

delivery_actor::behavior_type delivery(delivery_ptr self, delivery_config cfg);

} // namespace troupe
