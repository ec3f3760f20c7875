#include "runtime/readiness.hpp"

#include <algorithm>

#include <caf/send.hpp>

namespace troupe {

bool readiness_view::ready(std::string& why) const {
  std::lock_guard<std::mutex> guard{mtx_};
  why = why_;
  return ready_;
}

void readiness_view::publish(bool ready, std::string why) {
  std::lock_guard<std::mutex> guard{mtx_};
  ready_ = ready;
  why_ = std::move(why);
}

namespace {

void publish(readiness_state& st) {
  for (auto& source : st.sources)
    if (auto i = st.not_ready.find(source); i != st.not_ready.end()) {
      st.view->publish(false, i->second);
      return;
    }
  std::string restarting;
  for (auto& [source, why] : st.not_ready)
    if (std::find(st.sources.begin(), st.sources.end(), source)
        == st.sources.end())
      restarting += " " + why;
  if (!restarting.empty())
    st.view->publish(false, "restarting:" + restarting);
  else
    st.view->publish(true, "");
}

} // namespace

readiness_actor::behavior_type
readiness(readiness_actor::stateful_pointer<readiness_state> self,
          std::shared_ptr<readiness_view> view) {
  auto& st = self->state;
  st.view = std::move(view);
  st.sources.emplace_back("node");
  st.not_ready["node"] = "starting";
  publish(st);
  return {
    [=](require_atom, const std::string& source) {
      auto& st = self->state;
      if (std::find(st.sources.begin(), st.sources.end(), source)
          != st.sources.end())
        return;
      st.sources.push_back(source);
      st.not_ready[source] = "starting";
      publish(st);
    },
    [=](health_atom, const std::string& source, bool healthy,
        const std::string& why) {
      auto& st = self->state;
      if (healthy)
        st.not_ready.erase(source);
      else
        st.not_ready[source] = why.empty() ? source + ": not ready" : why;
      publish(st);
    },
  };
}

caf::behavior readiness_prober(caf::event_based_actor* self,
                               readiness_actor target,
                               std::vector<readiness_check> checks,
                               std::chrono::milliseconds interval) {
  self->send(self, poll_atom::value);
  return {
    [=](poll_atom) {
      for (auto& check : checks) {
        auto why = check.why_not();
        self->send(target, health_atom::value, check.source, why.empty(), why);
      }
      self->delayed_send(self, interval, poll_atom::value);
    },
  };
}

std::function<void(bool, const std::string&)>
report_health(readiness_actor target, std::string source) {
  return [target, source](bool healthy, const std::string& why) {
    caf::anon_send(target, health_atom::value, source, healthy, why);
  };
}

} // namespace troupe
