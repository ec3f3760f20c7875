// The infrastructure a node runs on, chosen by `engine.mode`, behind the
// ports the roles and the HTTP API use:
//
//   mode            store         bus / consumers    relay          read side
//   kafka-postgres  pg_store      Kafka (librdkafka)  outbox_relay   order_queries
//   memory          memory_store  sim::kafka          sim::relay     memory_reads
//                   (sim/)        sim::consumer       (relay_loop)   (adapters/memory)
//
// Either way the same actors do the work: the services, the saga router and
// its orchestrators, delivery with its retries and dead letters, the
// consumer and relay cores, the supervisors. Each function fills the node
// context (store, admission gate, partition count, fencing, readiness
// checks) and returns what the composition root wires next.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/store.hpp"
#include "adapters/http/order_reads.hpp"
#include "apps/troupe-node/roles.hpp"
#include "runtime/supervisor.hpp"

namespace troupe {

struct engine {
  std::shared_ptr<order_reads> reads;
  /// Takes dead letters the store refuses straight to the bus.
  dead_letter_fallback_actor dead_letter_fallback;
  /// The consumer of role `name`, wired by the role; run under the node's
  /// I/O supervisor.
  std::function<child_spec(const std::string& name, consumer_wiring w)>
    consumer;
  /// The other I/O actors (the outbox relay, retention).
  std::vector<child_spec> io;
  /// Logged once the node is up: where its infrastructure is.
  std::string where;
};

/// Kafka and PostgreSQL (migrations are applied before).
engine kafka_postgres_engine(node_context& n);

/// The in-memory event bus: one node, state lost at exit.
engine memory_engine(node_context& n);

} // namespace troupe
