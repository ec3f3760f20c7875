// The orchestrator's state machine.
#include "actors/orchestrator.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>

#include "actors/rules.hpp"
#include "base/errors.hpp"
#include "observability/log.hpp"
#include "observability/tracing.hpp"

namespace troupe {

namespace {

void add_outcome(saga_write& w, const rules::outcome& o) {
  w.final_status = o.status;
  w.reason = o.reason;
  w.release = o.release;
  w.refund = o.refund;
  if (o.release)
    w.timeline.push_back(timeline_kind::compensation_release);
  if (o.refund)
    w.timeline.push_back(timeline_kind::compensation_refund);
  w.timeline.push_back(timeline_of(o.status));
}

} // namespace

std::optional<saga_write> plan_step(const saga_snapshot& saga,
                                    const saga_step& step) {
  saga_write w;
  w.order_id = saga.order_id;
  w.correlation_id = saga.correlation_id;
  w.expect_status = saga.status;
  w.expect_payment = saga.payment_status;
  w.expect_inventory = saga.inventory_status;
  // The step continues the trace of the event it applies (the deadline: the
  // order's own).
  const std::string* trace = &saga.traceparent;
  if (step.kind == saga_step::payment && !step.pay.traceparent.empty())
    trace = &step.pay.traceparent;
  else if (step.kind == saga_step::inventory && !step.inv.traceparent.empty())
    trace = &step.inv.traceparent;
  else if (step.kind == saga_step::cancel
           && !step.cancel_req.traceparent.empty())
    trace = &step.cancel_req.traceparent;
  w.traceparent = *trace;
  bool open = saga.status == order_status::fresh;
  switch (step.kind) {
    case saga_step::payment: {
      if (saga.payment_status != payment_state::none)
        return std::nullopt; // seen already: a redelivery
      w.event_id = step.pay.event_id;
      w.payment_status = step.pay.approved ? payment_state::approved
                                           : payment_state::declined;
      w.timeline.push_back(timeline_of(w.payment_status));
      if (open) {
        auto o = rules::decide(w.payment_status, saga.inventory_status);
        if (o.status != order_status::fresh)
          add_outcome(w, o);
      } else if (step.pay.approved && saga.status == order_status::cancelled) {
        // Money taken for an order that is already cancelled goes back.
        w.refund = true;
        w.timeline.push_back(timeline_kind::compensation_refund);
      }
      return w;
    }
    case saga_step::inventory: {
      if (saga.inventory_status != inventory_state::none)
        return std::nullopt;
      w.event_id = step.inv.event_id;
      w.inventory_status = step.inv.reserved
                             ? inventory_state::reserved
                             : inventory_failure(step.inv.reason);
      w.timeline.push_back(timeline_of(w.inventory_status));
      if (open) {
        auto o = rules::decide(saga.payment_status, w.inventory_status);
        if (o.status != order_status::fresh)
          add_outcome(w, o);
      } else if (step.inv.reserved && saga.status == order_status::cancelled) {
        // A reservation that arrives after the end is released.
        w.release = true;
        w.timeline.push_back(timeline_kind::compensation_release);
      }
      return w;
    }
    case saga_step::cancel: {
      // A final order stays as it is; a repeated request finds it final.
      if (!open)
        return std::nullopt;
      w.event_id = step.cancel_req.event_id;
      // As at the deadline: both results committed (the decision's write
      // was lost) decide; otherwise the customer's request cancels, and
      // results that arrive later are compensated like after a deadline.
      auto o = rules::decide(saga.payment_status, saga.inventory_status);
      if (o.status == order_status::fresh)
        o = rules::withdraw(saga.payment_status, saga.inventory_status,
                            cancel_reason::customer_cancelled);
      add_outcome(w, o);
      return w;
    }
    case saga_step::deadline: {
      if (!open)
        return std::nullopt;
      // Both results committed in time (the decision's write was lost):
      // decide from them; otherwise the deadline cancels.
      auto o = rules::decide(saga.payment_status, saga.inventory_status);
      if (o.status == order_status::fresh) {
        w.timeline.push_back(timeline_kind::deadline_expired);
        o = rules::expire(saga.payment_status, saga.inventory_status);
      }
      add_outcome(w, o);
      return w;
    }
  }
  return std::nullopt;
}

void apply_write(saga_snapshot& saga, const saga_write& w) {
  if (w.payment_status != payment_state::none)
    saga.payment_status = w.payment_status;
  if (w.inventory_status != inventory_state::none)
    saga.inventory_status = w.inventory_status;
  if (w.final_status != order_status::fresh) {
    saga.status = w.final_status;
    saga.reason = w.reason;
  }
}

namespace {

using promise = caf::typed_response_promise<write_outcome>;

/// A step on its way through the store, with where its answer goes: the
/// event's sender, or (for the deadline) a timer that fires again.
struct work {
  saga_step step;
  promise rp;
  bool from_kafka = false;
  int replans = 0; ///< reloads this step caused (stale, duplicate)
};

/// How many times one step may reload the saga and plan again before it is
/// answered with a retryable error (the store keeps changing under it).
constexpr int max_replans = 3;

void succeed(const work& w, write_outcome x) {
  if (w.from_kafka)
    promise{w.rp}.deliver(x);
}

/// Answers a step that could not be applied. Its sender retries; a deadline
/// has no sender, so it fires again shortly.
void fail(orchestrator_ptr self, const work& w, caf::error err) {
  if (w.from_kafka)
    promise{w.rp}.deliver(std::move(err));
  else if (w.step.kind == saga_step::deadline
           && !has_code(err, troupe_errc::handed_off))
    self->delayed_send(self, std::chrono::seconds(1), deadline_atom::value);
}

/// The deadline's timer never waits longer than this: it fires again until
/// the deadline has passed. A timer keeps its actor's memory alive, so an
/// orchestrator the router passivated is freed within this time, not at
/// its deadline.
constexpr auto deadline_horizon = std::chrono::seconds(10);

void arm_deadline(orchestrator_ptr self) {
  auto left = self->state.deadline_at - self->clock().now();
  self->delayed_send(self,
                     std::max(caf::timespan{0},
                              std::min<caf::timespan>(left, deadline_horizon)),
                     deadline_atom::value);
}

void start_deadline(orchestrator_ptr self) {
  auto& st = self->state;
  if (st.saga.status != order_status::fresh)
    return;
  st.deadline_at
    = self->clock().now()
      + std::chrono::milliseconds(std::max<int64_t>(0, st.saga.deadline_in_ms));
  arm_deadline(self);
}

const char* step_name(saga_step::kind_t k) {
  switch (k) {
    case saga_step::payment:
      return "payment.result";
    case saga_step::inventory:
      return "inventory.result";
    case saga_step::cancel:
      return "order.cancel.requested";
    default:
      return "deadline";
  }
}

void record_final(orchestrator_ptr self, const saga_write& plan) {
  auto& st = self->state;
  log::debug_traced("orchestrator", st.order_id, st.saga.correlation_id,
                    plan.traceparent, "order {} {}",
                    to_string(plan.final_status), to_string(plan.reason));
  st.probe.finalized(plan.final_status, plan.reason);
  if (st.saga.created_at_ms > 0) {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    st.probe.duration((now - st.saga.created_at_ms) / 1000.0);
  }
}

void run(orchestrator_ptr self, const work& w);

/// While the store works on a request: every other message stays in the
/// mailbox, in arrival order, until the reply is in. Unlike `await`, this
/// lets system messages through, so an exit (the node shutting down) ends
/// the actor at once instead of after the request's timeout.
orchestrator_actor::behavior_type waiting() {
  return {
    [](payment_result&) -> caf::result<write_outcome> { return caf::skip; },
    [](inventory_result&) -> caf::result<write_outcome> { return caf::skip; },
    [](cancel_requested&) -> caf::result<write_outcome> { return caf::skip; },
    [](revoke_atom) -> caf::result<void> { return caf::skip; },
    [](deadline_atom) -> caf::result<void> { return caf::skip; },
    [](done_atom) -> caf::result<void> { return caf::skip; },
  };
}

/// Sends `x` to the store and takes nothing else until it answers, with
/// `on_reply` or `on_error`.
template <class Reply, class Request, class OnReply, class OnError>
void ask_store(orchestrator_ptr self, Request x, OnReply on_reply,
               OnError on_error) {
  self->become(caf::keep_behavior, waiting());
  self->request(self->state.store, self->state.store_timeout, std::move(x))
    .then(
      [=](Reply& y) {
        self->unbecome();
        on_reply(y);
      },
      [=](caf::error& err) {
        self->unbecome();
        on_error(err);
      });
}

/// Answers every step still in the mailbox with `err`, then stops. With
/// `handed_off`, the events go back to their senders and on to the new
/// owner; with a store error, each sender treats it as that error.
void refuse_rest(orchestrator_ptr self, caf::error err) {
  self->become(orchestrator_actor::behavior_type{
    [=](payment_result&) -> caf::result<write_outcome> { return err; },
    [=](inventory_result&) -> caf::result<write_outcome> { return err; },
    [=](cancel_requested&) -> caf::result<write_outcome> { return err; },
    [=](revoke_atom) {},
    [=](deadline_atom) {},
    [=](done_atom) { self->quit(); },
  });
  self->send(self, done_atom::value);
}

void hand_off(orchestrator_ptr self, const char* why) {
  refuse_rest(self, make_error(troupe_errc::handed_off, why));
}

/// The order is final: apply what is already in the mailbox, then stop.
void close(orchestrator_ptr self) {
  self->send(self, done_atom::value);
}

/// Reads the committed saga, then runs `w` against it.
void reload_then_run(orchestrator_ptr self, const work& w) {
  ask_store<saga_snapshot>(
    self, load_saga{self->state.order_id},
    [=](saga_snapshot& snap) {
      auto& st = self->state;
      if (!snap.found) {
        log::warn("orchestrator", "order {} not found", st.order_id);
        auto err = make_error(troupe_errc::not_found, st.order_id);
        fail(self, w, err);
        refuse_rest(self, std::move(err));
        return;
      }
      st.saga = std::move(snap);
      st.reload = false;
      run(self, w);
    },
    [=](caf::error& err) {
      log::warn("orchestrator", "loading order {} failed: {}",
                self->state.order_id, describe(err));
      fail(self, w, std::move(err));
    });
}

/// Plans `w` against the committed saga and writes the plan; nothing else
/// is taken from the mailbox until the store has answered.
void run(orchestrator_ptr self, const work& w) {
  auto& st = self->state;
  if (st.reload) {
    // Plans are made from committed state only: after any doubt about what
    // the store holds (a failed, timed-out or refused write), read it again.
    reload_then_run(self, w);
    return;
  }
  auto plan = plan_step(st.saga, w.step);
  if (!plan) {
    succeed(w, write_outcome::duplicate);
    return;
  }
  bool was_open = st.saga.status == order_status::fresh;
  // A write that emits events is the orchestrator's decision: its own span,
  // the parent of what follows.
  std::string parent_span;
  auto started = std::chrono::system_clock::now();
  bool decides = plan->final_status != order_status::fresh || plan->release
                 || plan->refund;
  if (decides && tracing::enabled() && !plan->traceparent.empty()) {
    parent_span = tracing::span_id_of(plan->traceparent);
    plan->traceparent = tracing::child(plan->traceparent);
  }
  ask_store<write_outcome>(
    self, *plan,
    [=](write_outcome x) {
      auto& st = self->state;
      if (!parent_span.empty())
        tracing::finish(plan->traceparent, parent_span, "orchestrator decide",
                        tracing::span_kind::internal, started,
                        {{"troupe.order_id", plan->order_id},
                         {"troupe.step", step_name(w.step.kind)},
                         {"troupe.status", to_string(plan->final_status)},
                         {"troupe.reason", to_string(plan->reason)},
                         {"troupe.release", plan->release ? "true" : "false"},
                         {"troupe.refund", plan->refund ? "true" : "false"},
                         {"troupe.outcome", to_string(x)}},
                        x == write_outcome::fenced);
      if (x == write_outcome::fenced) {
        // Another node owns this order now: give the work back.
        log::info("orchestrator", "order {}: partition moved, stopping",
                  st.order_id);
        fail(self, w,
             make_error(troupe_errc::handed_off,
                        "fenced: the order's partition moved"));
        hand_off(self, "fenced: the order's partition moved");
        return;
      }
      if (x == write_outcome::stale || x == write_outcome::duplicate) {
        // The store holds something this actor does not know: the saga
        // moved on meanwhile (stale), or this very step committed earlier
        // and its reply was lost (duplicate). Reload, then plan the step
        // again against what is committed.
        if (w.replans < max_replans) {
          auto again = w;
          ++again.replans;
          st.reload = true;
          run(self, again);
          return;
        }
        fail(self, w,
             make_error(troupe_errc::transient,
                        "the saga keeps changing; try again"));
        return;
      }
      if (x == write_outcome::applied) {
        apply_write(st.saga, *plan);
        if (plan->final_status != order_status::fresh)
          record_final(self, *plan);
      }
      succeed(w, x);
      if (was_open && st.saga.status != order_status::fresh)
        close(self);
    },
    [=](caf::error& err) {
      // The write may have committed anyway (a lost reply, an unknown
      // commit): what this actor remembers is no longer trusted.
      self->state.reload = true;
      fail(self, w, std::move(err));
    });
}

template <class T>
caf::result<write_outcome>
accept(orchestrator_ptr self, saga_step::kind_t k, T& event) {
  work w;
  w.step.kind = k;
  if constexpr (std::is_same_v<T, payment_result>)
    w.step.pay = std::move(event);
  else if constexpr (std::is_same_v<T, inventory_result>)
    w.step.inv = std::move(event);
  else
    w.step.cancel_req = std::move(event);
  w.rp = self->make_response_promise<write_outcome>();
  w.from_kafka = true;
  run(self, w);
  return w.rp;
}

orchestrator_actor::behavior_type open(orchestrator_ptr self) {
  return {
    [=](payment_result& x) -> caf::result<write_outcome> {
      return accept(self, saga_step::payment, x);
    },
    [=](inventory_result& x) -> caf::result<write_outcome> {
      return accept(self, saga_step::inventory, x);
    },
    [=](cancel_requested& x) -> caf::result<write_outcome> {
      return accept(self, saga_step::cancel, x);
    },
    [=](revoke_atom) {
      // The partition moved; no write is in flight (the actor takes no
      // message while one is).
      hand_off(self, "handed off: the order's partition moved");
    },
    [=](deadline_atom) {
      if (self->clock().now() < self->state.deadline_at) {
        arm_deadline(self); // the horizon, not the deadline
        return;
      }
      work w;
      w.step.kind = saga_step::deadline;
      run(self, w);
    },
    [=](done_atom) {
      if (self->state.saga.status != order_status::fresh)
        self->quit();
    },
  };
}

} // namespace

orchestrator_actor::behavior_type
orchestrator(orchestrator_ptr self, std::string order_id, store_actor store,
             std::optional<saga_snapshot> preloaded,
             std::chrono::milliseconds store_timeout) {
  auto& st = self->state;
  st.order_id = std::move(order_id);
  st.store = std::move(store);
  st.store_timeout = store_timeout;
  if (preloaded) {
    st.saga = std::move(*preloaded);
    start_deadline(self);
    if (st.saga.status != order_status::fresh)
      self->send(self, done_atom::value);
    return open(self);
  }
  // Loading: the first behaviour waits for the snapshot; the deadline runs
  // from now on, with or without events.
  self->request(st.store, st.store_timeout, load_saga{st.order_id})
    .then(
      [=](saga_snapshot& snap) {
        auto& st = self->state;
        if (!snap.found) {
          // Results for an order this node's database does not know:
          // nothing to decide; answer so the events are not retried forever.
          log::warn("orchestrator", "order {} not found", st.order_id);
          refuse_rest(self, make_error(troupe_errc::not_found, st.order_id));
          return;
        }
        st.saga = std::move(snap);
        self->become(open(self));
        start_deadline(self);
        if (st.saga.status != order_status::fresh)
          self->send(self, done_atom::value);
      },
      [=](caf::error& err) {
        // What came meanwhile gets the store's answer; the next event spawns
        // a fresh orchestrator.
        log::warn("orchestrator", "loading order {} failed: {}",
                  self->state.order_id, describe(err));
        refuse_rest(self, std::move(err));
      });
  return waiting();
}

} // namespace troupe