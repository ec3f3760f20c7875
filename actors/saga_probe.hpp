// The saga's metrics: orders created, finalized (by status and reason),
// their duration, and the orchestrators alive on this node. Declared here
// once; the orchestrator, the router and the HTTP API say what happened.
#pragma once

#include <cstddef>

#include "actors/vocabulary.hpp"

namespace troupe {

/// What the saga counts. Any number of probes may exist (one per
/// orchestrator, say); they share the process-wide series, so every member
/// may be called from any thread.
class saga_probe {
public:
  saga_probe();

  /// One order created (over HTTP or from the intake topic).
  void created();

  /// Where new orders come from.
  enum class source { http, intake };

  /// One new order refused by admission control (`saga.max-in-flight`).
  void shed(source from);

  /// One order reached its final status.
  void finalized(order_status status, cancel_reason reason);

  /// The time from an order's creation to its final status.
  void duration(double seconds);

  /// How many orchestrators are alive on this node.
  void live_orchestrators(size_t n);

  /// `n` idle orchestrators were passivated (their sagas stay open).
  void passivated(size_t n);

  struct families;

private:
  families* f_;
};

} // namespace troupe
