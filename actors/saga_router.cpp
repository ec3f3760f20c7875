// The saga router's routing, spawning and rehydration.
#include "actors/saga_router.hpp"

#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "base/errors.hpp"
#include "observability/log.hpp"

namespace troupe {

namespace {

orchestrator_actor spawn_orchestrator(saga_router_ptr self,
                                      const std::string& order_id,
                                      std::optional<saga_snapshot> snap) {
  auto& st = self->state;
  // Linked: when the router stops (node shutdown), its orchestrators stop
  // too instead of waiting for their deadlines; when one stops, the router
  // hears of it through the link.
  auto orch = self->spawn<caf::linked>(orchestrator, order_id, st.store,
                                       std::move(snap), st.cfg.store_timeout);
  // Callers spawn for orders that are not live only.
  auto i
    = st.live.try_emplace(order_id, live_saga{orch, self->clock().now()}).first;
  st.by_id[orch.id()] = &i->first;
  st.probe.live_orchestrators(st.live.size());
  return orch;
}

orchestrator_actor route(saga_router_ptr self, const std::string& order_id) {
  auto& st = self->state;
  if (auto i = st.live.find(order_id); i != st.live.end()) {
    i->second.last_event = self->clock().now();
    return i->second.actor;
  }
  return spawn_orchestrator(self, order_id, std::nullopt);
}

/// Tells the orchestrator of `i` to stop (it finishes the write in flight
/// and what it already holds) and forgets it: the order's next event spawns
/// a fresh one, which loads the committed state.
std::unordered_map<std::string, live_saga>::iterator
let_go(saga_router_ptr self,
       std::unordered_map<std::string, live_saga>::iterator i) {
  auto& st = self->state;
  auto id = i->second.actor.id();
  self->send(i->second.actor, revoke_atom::value);
  st.by_id.erase(id);
  st.leaving.insert(id);
  return st.live.erase(i);
}

/// Passivates the orchestrators no event reached for `passivate_after`.
void passivate_idle(saga_router_ptr self) {
  auto& st = self->state;
  if (st.cfg.passivate_after.count() <= 0)
    return;
  auto before = self->clock().now() - st.cfg.passivate_after;
  size_t n = 0;
  for (auto i = st.live.begin(); i != st.live.end();) {
    if (i->second.last_event <= before) {
      i = let_go(self, i);
      ++n;
    } else {
      ++i;
    }
  }
  if (n > 0) {
    log::debug("saga_router", "passivated {} idle orchestrator(s)", n);
    st.probe.passivated(n);
    st.probe.live_orchestrators(st.live.size());
  }
}

void sweep(saga_router_ptr self, bool reschedule) {
  auto& st = self->state;
  if (reschedule) {
    self->delayed_send(self, st.cfg.sweep_interval, sweep_atom::value);
    passivate_idle(self);
  }
  if (st.sweeping)
    return;
  st.sweeping = true;
  list_open_sagas query;
  query.within_ms = st.first_sweep ? -1 : st.cfg.sweep_interval.count() * 2;
  query.limit = st.first_sweep ? 100000 : 10000;
  self->request(st.store, std::chrono::seconds(60), query)
    .then(
      [=](std::vector<saga_snapshot>& open) {
        auto& st = self->state;
        st.sweeping = false;
        if (st.sweep_failures > 0)
          log::info("saga_router", "sweep works again after {} failure(s)",
                    st.sweep_failures);
        st.sweep_failures = 0;
        size_t spawned = 0;
        for (auto& snap : open) {
          if (st.live.count(snap.order_id) > 0)
            continue;
          if (st.cfg.owns && !st.cfg.owns(snap.order_id))
            continue;
          auto id = snap.order_id;
          spawn_orchestrator(self, id, std::move(snap));
          ++spawned;
        }
        if (st.first_sweep || spawned > 0)
          log::info("saga_router", "{} {} open saga(s)",
                    st.first_sweep ? "rehydrated" : "swept", spawned);
        st.first_sweep = false;
      },
      [=](caf::error& err) {
        auto& st = self->state;
        st.sweeping = false;
        // Once per streak: an outage would otherwise log every interval.
        if (st.sweep_failures++ == 0)
          log::warn("saga_router", "sweep failed: {} (retrying every {} ms)",
                    describe(err), st.cfg.sweep_interval.count());
      });
}

} // namespace

saga_router_actor::behavior_type
saga_router(saga_router_ptr self, store_actor store, saga_router_config cfg,
            bool auto_sweep) {
  self->state.store = std::move(store);
  self->state.cfg = std::move(cfg);
  self->set_exit_handler([=](caf::exit_msg& msg) {
    // An orchestrator ends on its own (final, handed off, passivated, failed
    // to load); an exit from anyone else (the node shutting down) ends the
    // router and, through the links, its orchestrators.
    auto& st = self->state;
    auto id = msg.source.id();
    if (auto i = st.by_id.find(id); i != st.by_id.end()) {
      st.live.erase(*i->second);
      st.by_id.erase(i);
      st.probe.live_orchestrators(st.live.size());
      return;
    }
    if (st.leaving.erase(id) > 0)
      return;
    if (msg.reason != caf::exit_reason::normal)
      self->quit(msg.reason);
  });
  if (auto_sweep)
    self->send(self, sweep_atom::value);
  return {
    [=](payment_result& x) -> caf::result<write_outcome> {
      auto orch = route(self, x.order_id);
      return self->delegate(orch, std::move(x));
    },
    [=](inventory_result& x) -> caf::result<write_outcome> {
      auto orch = route(self, x.order_id);
      return self->delegate(orch, std::move(x));
    },
    [=](cancel_requested& x) -> caf::result<write_outcome> {
      auto orch = route(self, x.order_id);
      return self->delegate(orch, std::move(x));
    },
    [=](sweep_atom) { sweep(self, true); },
    [=](rehydrate_atom) {
      self->state.first_sweep = true;
      sweep(self, false);
    },
    [=](revoke_atom, std::vector<int32_t>& parts) {
      auto& st = self->state;
      if (!st.cfg.partition_of)
        return;
      std::set<int32_t> gone(parts.begin(), parts.end());
      size_t stopped = 0;
      for (auto i = st.live.begin(); i != st.live.end();) {
        if (gone.count(st.cfg.partition_of(i->first)) > 0) {
          // It commits its write in flight, then stops; the new owner
          // reloads the committed state.
          i = let_go(self, i);
          ++stopped;
        } else {
          ++i;
        }
      }
      if (stopped > 0) {
        log::info("saga_router", "handed off {} orchestrator(s)", stopped);
        st.probe.live_orchestrators(st.live.size());
      }
    },
    [=](live_atom) { return static_cast<uint64_t>(self->state.live.size()); },
  };
}

} // namespace troupe
