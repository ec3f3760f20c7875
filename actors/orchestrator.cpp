// The orchestrator's state machine.
#include "orchestrator.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>

#include "errors.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "rules.hpp"

namespace troupe {

namespace {

std::string lower(std::string x) {
  for (auto& c : x)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return x;
}

void add_outcome(saga_write& w, const rules::outcome& o) {
  w.final_status = o.status;
  w.reason = o.reason;
  w.release = o.release;
  w.refund = o.refund;
  if (o.release)
    w.timeline.emplace_back("compensation.release");
  if (o.refund)
    w.timeline.emplace_back("compensation.refund");
  w.timeline.emplace_back("status." + o.status);
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
  bool open = saga.status == status::fresh;
  switch (step.kind) {
    case saga_step::payment: {
      if (!saga.payment_status.empty())
        return std::nullopt; // seen already: a redelivery
      w.event_id = step.pay.event_id;
      w.payment_status = step.pay.approved ? pay::approved : pay::declined;
      w.timeline.emplace_back("payment." + lower(w.payment_status));
      if (open) {
        auto o = rules::decide(w.payment_status, saga.inventory_status);
        if (!o.status.empty())
          add_outcome(w, o);
      } else if (step.pay.approved && saga.status == status::cancelled) {
        // Money taken for an order that is already cancelled goes back.
        w.refund = true;
        w.timeline.emplace_back("compensation.refund");
      }
      return w;
    }
    case saga_step::inventory: {
      if (!saga.inventory_status.empty())
        return std::nullopt;
      w.event_id = step.inv.event_id;
      if (step.inv.reserved)
        w.inventory_status = inv::reserved;
      else if (step.inv.reason == reason::quantity_limit)
        w.inventory_status = inv::quantity_limit;
      else
        w.inventory_status = inv::out_of_stock;
      w.timeline.emplace_back("inventory." + lower(w.inventory_status));
      if (open) {
        auto o = rules::decide(saga.payment_status, w.inventory_status);
        if (!o.status.empty())
          add_outcome(w, o);
      } else if (step.inv.reserved && saga.status == status::cancelled) {
        // A reservation that arrives after the end is released.
        w.release = true;
        w.timeline.emplace_back("compensation.release");
      }
      return w;
    }
    case saga_step::deadline: {
      if (!open)
        return std::nullopt;
      // Both results committed in time (the decision's write was lost):
      // decide from them; otherwise the deadline cancels.
      auto o = rules::decide(saga.payment_status, saga.inventory_status);
      if (o.status.empty()) {
        w.timeline.emplace_back("deadline.expired");
        o = rules::expire(saga.payment_status, saga.inventory_status);
      }
      add_outcome(w, o);
      return w;
    }
  }
  return std::nullopt;
}

void apply_write(saga_snapshot& saga, const saga_write& w) {
  if (!w.payment_status.empty())
    saga.payment_status = w.payment_status;
  if (!w.inventory_status.empty())
    saga.inventory_status = w.inventory_status;
  if (!w.final_status.empty()) {
    saga.status = w.final_status;
    saga.reason = w.reason;
  }
}

namespace {

void run_next(orchestrator_ptr self);

void finish_step(orchestrator_ptr self, saga_step& step, write_outcome x) {
  if (step.has_rp)
    step.rp.deliver(x);
}

/// Answers a step that could not be applied. Its sender retries; a deadline
/// has no sender, so it fires again shortly.
void fail_step(orchestrator_ptr self, saga_step& step, caf::error err) {
  if (step.has_rp)
    step.rp.deliver(std::move(err));
  else if (step.kind == saga_step::deadline
           && !has_code(err, troupe_errc::handed_off))
    self->delayed_send(self, std::chrono::seconds(1), deadline_atom::value);
}

/// Gives every queued step back to its sender and stops: this node does not
/// own the order any more; its events are redelivered to the new owner.
void hand_off(orchestrator_ptr self, const char* why) {
  auto& st = self->state;
  for (auto& step : st.queue)
    fail_step(self, step, make_error(troupe_errc::handed_off, why));
  st.queue.clear();
  self->quit();
}

/// How many times one step may reload the saga and plan again before it is
/// answered with a retryable error (the store keeps changing under it).
constexpr int max_replans = 3;

void load(orchestrator_ptr self) {
  self->state.busy = true;
  self->request(self->state.store, std::chrono::seconds(30),
                load_saga{self->state.order_id})
    .then(
      [=](saga_snapshot& snap) {
        auto& st = self->state;
        st.busy = false;
        if (!snap.found) {
          // Results for an order this node's database does not know: nothing
          // to decide; answer so the events are not retried forever.
          log::warn("orchestrator", "order {} not found; dropping {} step(s)",
                    st.order_id, st.queue.size());
          for (auto& step : st.queue)
            fail_step(self, step,
                      make_error(troupe_errc::not_found, st.order_id));
          st.queue.clear();
          self->quit();
          return;
        }
        st.saga = std::move(snap);
        bool was_loaded = st.loaded;
        st.loaded = true;
        st.reload = false;
        if (!was_loaded && st.saga.status == status::fresh)
          self->delayed_send(self,
                             std::chrono::milliseconds(
                               std::max<int64_t>(0, st.saga.deadline_in_ms)),
                             deadline_atom::value);
        run_next(self);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        st.busy = false;
        log::warn("orchestrator", "loading order {} failed: {}", st.order_id,
                  describe(err));
        auto steps = std::move(st.queue);
        st.queue.clear();
        for (auto& step : steps)
          fail_step(self, step, err);
        if (!st.loaded)
          self->quit(); // the next event spawns a fresh orchestrator
      });
}

void run_next(orchestrator_ptr self) {
  auto& st = self->state;
  if (st.busy)
    return;
  if (st.handing_off) {
    hand_off(self, "handed off: the order's partition moved");
    return;
  }
  if (!st.loaded || st.reload) {
    // Plans are made from committed state only: after any doubt about what
    // the store holds (a failed, timed-out or refused write), read it again.
    load(self);
    return;
  }
  while (!st.queue.empty()) {
    auto plan = plan_step(st.saga, st.queue.front());
    if (plan) {
      st.busy = true;
      self->request(st.store, std::chrono::seconds(30), *plan)
        .then(
          [=](write_outcome x) {
            auto& st = self->state;
            st.busy = false;
            auto step = std::move(st.queue.front());
            st.queue.pop_front();
            if (x == write_outcome::fenced) {
              // Another node owns this order now: give the work back.
              log::info("orchestrator", "order {}: partition moved, stopping",
                        st.order_id);
              st.queue.push_front(std::move(step));
              hand_off(self, "fenced: the order's partition moved");
              return;
            }
            if (x == write_outcome::stale || x == write_outcome::duplicate) {
              // The store holds something this actor does not know: the
              // saga moved on meanwhile (stale), or this very step committed
              // earlier and its reply was lost (duplicate). Reload, then
              // plan the step again against what is committed.
              if (step.replans++ < max_replans) {
                st.queue.push_front(std::move(step));
                st.reload = true;
                run_next(self);
                return;
              }
              fail_step(self, step,
                        make_error(troupe_errc::transient,
                                   "the saga keeps changing; try again"));
              run_next(self);
              return;
            }
            if (x == write_outcome::applied)
              apply_write(st.saga, *plan);
            if (!plan->final_status.empty() && x == write_outcome::applied) {
              log::debug_order("orchestrator", st.order_id,
                               st.saga.correlation_id, "order {} {}",
                               plan->final_status, plan->reason);
              metrics::inc("troupe_orders_finalized_total",
                           {{"status", plan->final_status},
                            {"reason", plan->reason.empty() ? "none"
                                                            : plan->reason}});
              if (st.saga.created_at_ms > 0) {
                auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
                metrics::observe("troupe_order_duration_seconds", {},
                                 (now - st.saga.created_at_ms) / 1000.0);
              }
            }
            finish_step(self, step, x);
            run_next(self);
          },
          [=](caf::error& err) {
            auto& st = self->state;
            st.busy = false;
            auto step = std::move(st.queue.front());
            st.queue.pop_front();
            // The write may have committed anyway (a lost reply, an unknown
            // commit): what this actor remembers is no longer trusted.
            st.reload = true;
            fail_step(self, step, std::move(err));
            run_next(self);
          });
      return;
    }
    finish_step(self, st.queue.front(), write_outcome::duplicate);
    st.queue.pop_front();
  }
  if (st.saga.status != status::fresh)
    self->quit();
}

template <class T>
caf::result<write_outcome> enqueue(orchestrator_ptr self, saga_step::kind_t k,
                                   T&& event) {
  saga_step step;
  step.kind = k;
  if constexpr (std::is_same_v<std::decay_t<T>, payment_result>)
    step.pay = std::forward<T>(event);
  else
    step.inv = std::forward<T>(event);
  step.rp = self->make_response_promise<write_outcome>();
  step.has_rp = true;
  auto rp = step.rp;
  self->state.queue.push_back(std::move(step));
  run_next(self);
  return rp;
}

} // namespace

orchestrator_actor::behavior_type
orchestrator(orchestrator_ptr self, std::string order_id, store_actor store,
             std::optional<saga_snapshot> preloaded) {
  auto& st = self->state;
  st.order_id = std::move(order_id);
  st.store = std::move(store);
  if (preloaded) {
    st.saga = std::move(*preloaded);
    st.loaded = true;
    if (st.saga.status == status::fresh)
      self->delayed_send(self,
                         std::chrono::milliseconds(
                           std::max<int64_t>(0, st.saga.deadline_in_ms)),
                         deadline_atom::value);
  } else {
    load(self); // the deadline runs from now on, with or without events
  }
  return {
    [=](payment_result& x) -> caf::result<write_outcome> {
      return enqueue(self, saga_step::payment, std::move(x));
    },
    [=](inventory_result& x) -> caf::result<write_outcome> {
      return enqueue(self, saga_step::inventory, std::move(x));
    },
    [=](revoke_atom) {
      // The partition moved: finish the write in flight, then stop.
      self->state.handing_off = true;
      run_next(self);
    },
    [=](deadline_atom) {
      saga_step step;
      step.kind = saga_step::deadline;
      self->state.queue.push_back(std::move(step));
      run_next(self);
    },
  };
}

} // namespace troupe
