// The outbox relay of the simulated infrastructure: publishes the outbox of
// a `memory_db` to a `sim::kafka` through the production relay's logic
// (runtime/relay_core: what to claim, produce and mark), as
// adapters/outbox does between PostgreSQL and Kafka.
//
//   memory_db.outbox ──claim (row order, from the first unpublished)──▶ [relay]
//        ▲ mark published ◀── delivery report (at once) ◀── produce ──▶ sim::kafka
//
// Used by the simulator (apps/troupe-sim, which drives it between actor
// runs and may publish a row twice) and by troupe-node's in-memory event
// bus (`relay_loop`, an actor that runs it on a timer). While the broker is
// down nothing goes out: the core sees an outage, and the rows wait, the
// ones behind them too.
//
// Threads: `run` holds the database's lock (`memory_db::mtx`) while it
// claims, produces and marks, so store actors on other threads see a row
// published or not, never half; the bus takes its own lock when shared.
// One relay per database; not thread-safe itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/store.hpp"
#include "runtime/relay_core.hpp"
#include "sim/kafka.hpp"
#include "sim/memory_store.hpp"

namespace troupe::sim {

/// The row's envelope, with the row's own event id (a redelivery must carry
/// the same one) and `at` as the event's time; a dead letter's row is the
/// bytes as received.
std::string encode(const outbox_row& row, const std::string& at);

class relay {
public:
  struct hooks {
    /// The time the envelopes carry; empty: none.
    std::function<std::string()> at;
    /// A row landed at `tp`@`offset` (`again`: its second publish). Returns
    /// whether to publish it once more (a lost delivery report, in the
    /// simulator's fault window); ignored for a second publish. Empty:
    /// once.
    std::function<bool(const outbox_row&, const topic_partition& tp,
                       int64_t offset, bool again)>
      published;
  };

  relay(std::shared_ptr<memory_db> db, std::shared_ptr<kafka> bus, hooks h,
        relay_core::settings cfg = relay_core::settings{});

  /// Publishes what it can now: claims, produces and marks until the
  /// outbox is published, the window is full, or the broker is down.
  void run(relay_core::clock::time_point now);

  /// Outbox rows before this index are published.
  size_t relayed() const {
    return relayed_;
  }

private:
  std::shared_ptr<memory_db> db_;
  std::shared_ptr<kafka> bus_;
  hooks hooks_;
  relay_core core_;
  size_t relayed_ = 0;
};

/// To a relay loop: time to publish.
using relay_tick_atom = caf::atom_constant<caf::atom("relaytick")>;

/// Runs `r` every `interval` on the actor's clock (the in-memory event bus
/// of troupe-node). A plain actor: no blocking I/O.
caf::behavior relay_loop(caf::event_based_actor* self, std::shared_ptr<relay> r,
                         std::chrono::milliseconds interval);

/// The dead-letter fallback of the simulated nodes: straight to the
/// message's `.dlq` topic on the bus; refused while the broker is down.
dead_letter_fallback_actor::behavior_type
dlq_producer(dead_letter_fallback_actor::pointer, std::shared_ptr<kafka> bus);

} // namespace troupe::sim
