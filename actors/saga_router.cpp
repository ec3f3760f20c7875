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
  // too instead of waiting for their deadlines.
  auto orch = self->spawn<caf::linked>(orchestrator, order_id, st.store,
                                       std::move(snap), st.cfg.store_timeout);
  self->monitor(orch);
  st.live.emplace(order_id, orch);
  st.probe.live_orchestrators(st.live.size());
  return orch;
}

orchestrator_actor route(saga_router_ptr self, const std::string& order_id) {
  auto& st = self->state;
  if (auto i = st.live.find(order_id); i != st.live.end())
    return i->second;
  return spawn_orchestrator(self, order_id, std::nullopt);
}

void sweep(saga_router_ptr self, bool reschedule) {
  auto& st = self->state;
  if (reschedule)
    self->delayed_send(self, st.cfg.sweep_interval, sweep_atom::value);
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
    // Orchestrators end on their own (down handler); an exit from anyone
    // else (the node shutting down) ends the router and, through the links,
    // its orchestrators.
    for (auto& [id, orch] : self->state.live)
      if (orch.address() == msg.source)
        return;
    if (msg.reason != caf::exit_reason::normal)
      self->quit(msg.reason);
  });
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& live = self->state.live;
    for (auto i = live.begin(); i != live.end(); ++i) {
      if (i->second.address() == dm.source) {
        live.erase(i);
        self->state.probe.live_orchestrators(live.size());
        return;
      }
    }
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
          self->send(i->second, revoke_atom::value);
          i = st.live.erase(i);
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
