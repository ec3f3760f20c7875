// The direct route of dead letters to Kafka, for when PostgreSQL refuses to
// record one (the row is rejected for good): the message's `.dlq` copy is
// produced straight to `<topic>.dlq` with the same headers the outbox would
// give it, and the reply waits for the broker's acknowledgement.
//
//   [delivery] ──dead_letter──▶ [dead-letter producer] ──produce──▶ <topic>.dlq
//
// Used rarely, so the librdkafka producer is created on first use. Blocking
// I/O: spawn it detached. Errors: the broker refusing the message for good
// (too large, unknown topic) is final; anything else (brokers down, timeout)
// is retryable.
#pragma once

#include <caf/typed_event_based_actor.hpp>

#include "actors/store.hpp"
#include "adapters/kafka/kafka_settings.hpp"

struct rd_kafka_s;

namespace troupe {

struct dead_letter_producer_state {
  static inline const char* name = "dead_letter_producer";
  kafka_settings kafka;
  rd_kafka_s* producer = nullptr;
  int last_error = 0; ///< of the last delivery report
  ~dead_letter_producer_state();
};

dead_letter_fallback_actor::behavior_type dead_letter_producer(
  dead_letter_fallback_actor::stateful_pointer<dead_letter_producer_state> self,
  kafka_settings kafka);

} // namespace troupe
