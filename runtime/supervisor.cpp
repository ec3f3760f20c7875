// Restart with backoff, health reporting.
#include "runtime/supervisor.hpp"

#include <algorithm>

#include <caf/exit_reason.hpp>
#include <caf/message_view.hpp>
#include <caf/response_promise.hpp>

#include "base/errors.hpp"
#include "observability/log.hpp"

namespace troupe {

namespace {

using supervisor_ptr = caf::stateful_actor<supervisor_state>*;

void update_health(supervisor_ptr self) {
  auto& st = self->state;
  std::string why;
  bool healthy = true;
  for (auto& [name, child] : st.children) {
    if (child.finished) {
      why += (why.empty() ? "" : ", ") + name + " stopped";
    } else if (!child.up || child.restarts > 0) {
      why += (why.empty() ? "" : ", ") + name
             + (child.up ? " restarting" : " down");
      healthy = false;
    }
  }
  if (healthy != st.healthy || why != st.why) {
    st.healthy = healthy;
    st.why = why;
    if (st.cfg.on_health)
      st.cfg.on_health(healthy, why);
  }
}

void start(supervisor_ptr self, supervised_child& child) {
  child.handle = child.spec.start(self);
  child.up = true;
  ++child.generation;
  // Monitored for restarts; linked so that the child ends with its
  // supervisor whatever ends it, even `kill`, which no exit handler sees.
  self->monitor(child.handle);
  self->link_to(child.handle);
  self->delayed_send(self, self->state.cfg.stable_after, stable_atom::value,
                     child.spec.name, child.generation);
}

} // namespace

caf::behavior supervisor(caf::stateful_actor<supervisor_state>* self,
                         std::vector<child_spec> children,
                         supervisor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  if (!st.cfg.unit)
    st.cfg.unit = jitter_source();
  for (auto& spec : children) {
    auto name = spec.name;
    auto& child = st.children[name];
    child.spec = std::move(spec);
    start(self, child);
  }
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto& [name, child] : st.children) {
      if (child.handle.address() != dm.source)
        continue;
      child.up = false;
      child.handle = nullptr;
      if (st.ended.size() > 64)
        st.ended.erase(st.ended.begin());
      st.ended.push_back(dm.source);
      if (!dm.reason || dm.reason == caf::exit_reason::normal) {
        // Finished its work: nothing to restart.
        child.finished = true;
        log::info("supervisor", "{} finished; not restarted", name);
        update_health(self);
        return;
      }
      ++child.restarts;
      ++st.restarts_total;
      auto delay = backoff_delay(st.cfg.backoff, child.restarts, st.cfg.unit());
      log::warn("supervisor", "{} stopped ({}); restart {} in {} ms", name,
                describe(dm.reason), child.restarts, delay.count());
      self->delayed_send(self, delay, restart_atom::value, name);
      update_health(self);
      return;
    }
  });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    auto& st = self->state;
    // A child's end comes through its link too: the down handler restarts
    // it, the supervisor goes on.
    for (auto& [name, child] : st.children)
      if (child.handle && child.handle.address() == msg.source)
        return;
    auto i = std::find(st.ended.begin(), st.ended.end(), msg.source);
    if (i != st.ended.end()) {
      st.ended.erase(i);
      return;
    }
    for (auto& [name, child] : st.children)
      if (child.handle)
        self->send_exit(child.handle, msg.reason);
    self->quit(msg.reason);
  });
  if (!st.cfg.forward_to.empty()) {
    self->set_default_handler(
      [=](caf::scheduled_actor*,
          caf::message_view& x) -> caf::result<caf::message> {
        auto& st = self->state;
        auto i = st.children.find(st.cfg.forward_to);
        if (i != st.children.end() && i->second.finished)
          return make_error(troupe_errc::not_found,
                            st.cfg.forward_to + " has stopped");
        if (i == st.children.end() || !i->second.handle)
          return make_error(troupe_errc::unavailable,
                            st.cfg.forward_to + " is restarting");
        auto rp = self->make_response_promise();
        rp.delegate(i->second.handle, x.move_content_to_message());
        return rp;
      });
  }
  update_health(self);
  return {
    [=](restart_atom, const std::string& name) {
      auto i = self->state.children.find(name);
      if (i == self->state.children.end() || i->second.up || i->second.finished)
        return;
      log::info("supervisor", "restarting {}", name);
      start(self, i->second);
      update_health(self);
    },
    [=](stable_atom, const std::string& name, uint64_t generation) {
      auto i = self->state.children.find(name);
      if (i == self->state.children.end() || !i->second.up
          || i->second.generation != generation)
        return;
      i->second.restarts = 0;
      update_health(self);
    },
    [=](health_atom) { return self->state.healthy; },
  };
}

} // namespace troupe
