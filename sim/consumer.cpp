#include "sim/consumer.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

namespace troupe::sim {

namespace {

using consumer_ptr = caf::stateful_actor<consumer_state>*;

void commit(consumer_ptr self) {
  auto& st = self->state;
  for (auto& [tp, next] : st.core->take_commits())
    if (!st.cfg.bus->commit(st.cfg.group, st.cfg.member, st.generation, tp,
                            next))
      ++st.commits_refused; // an older generation: redelivered, idempotent
  st.last_commit = self->clock().now();
}

/// Notices a new generation: revokes what is held (waiting for its work),
/// then takes the new assignment at the committed offsets.
void follow_group(consumer_ptr self) {
  auto& st = self->state;
  auto gen = st.cfg.bus->generation(st.cfg.group);
  if (gen == st.generation && !st.revoking)
    return;
  auto now = self->clock().now();
  if (!st.assigned.empty()) {
    if (!st.revoking) {
      st.revoking = true;
      st.core->revoke(st.assigned, now + st.cfg.revoke_grace);
    }
    bool late = false;
    auto due = st.core->revoke_due(now, late);
    if (!due)
      return; // work in flight: the next poll looks again
    commit(self);
    st.core->forget(*due);
    for (auto& tp : *due)
      caf::anon_send(st.delivery, revoke_atom::value, tp.topic, tp.partition);
    if (st.cfg.on_revoked)
      st.cfg.on_revoked(st.core->first_topic_partitions(*due));
  }
  st.revoking = false;
  st.generation = st.cfg.bus->generation(st.cfg.group);
  st.assigned = st.cfg.bus->assignment(st.cfg.group, st.cfg.member);
  st.position.clear();
  for (auto& tp : st.assigned)
    st.position[{tp.topic, tp.partition}] = st.cfg.bus->committed(st.cfg.group,
                                                                  tp);
  if (st.cfg.on_assigned && !st.assigned.empty())
    st.cfg.on_assigned(st.core->first_topic_partitions(st.assigned));
}

void fetch(consumer_ptr self) {
  auto& st = self->state;
  for (auto& tp : st.assigned) {
    if (st.paused || st.core->full() || st.core->revoking(tp))
      break;
    auto& pos = st.position[{tp.topic, tp.partition}];
    for (auto& rec : st.cfg.bus->fetch(tp, pos, st.cfg.fetch_max)) {
      pos = rec.offset + 1;
      auto job = st.core->accept(fetched_message{
        tp.topic, tp.partition, rec.offset, rec.key, rec.value});
      if (!job)
        continue;
      if (st.cfg.on_job)
        st.cfg.on_job(*job);
      auto id = job->id;
      self->request(st.delivery, caf::infinite, std::move(*job))
        .then([=](delivery_outcome x) { self->state.core->complete(id, x); },
              [=](caf::error& err) { self->quit(err); });
      if (st.core->full())
        break;
    }
  }
  st.paused = st.core->pause_wanted(st.outage, st.paused);
}

} // namespace

caf::behavior consumer(caf::stateful_actor<consumer_state>* self,
                       consumer_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.core = std::make_unique<consumer_core>(
    st.cfg.routes.topics(), st.cfg.decode, st.cfg.max_in_flight);
  st.cfg.bus->join(st.cfg.group, st.cfg.member, st.cfg.routes.topics());
  delivery_config dc;
  dc.consumer = st.cfg.group;
  dc.routes = st.cfg.routes;
  dc.dead_letters = st.cfg.dead_letters;
  dc.fallback = st.cfg.fallback;
  dc.retry = st.cfg.retry;
  dc.handler_timeout = st.cfg.handler_timeout;
  dc.listener = caf::actor_cast<caf::actor>(self);
  dc.unit = st.cfg.unit;
  dc.now = st.cfg.now;
  st.delivery = self->spawn<caf::linked>(delivery, std::move(dc));
  st.last_commit = self->clock().now();
  self->send(self, poll_atom::value);
  return {
    [=](poll_atom) {
      auto& st = self->state;
      follow_group(self);
      if (!st.revoking)
        fetch(self);
      if (self->clock().now() - st.last_commit >= st.cfg.commit_interval)
        commit(self);
      self->delayed_send(self, st.cfg.poll_interval, poll_atom::value);
    },
    [=](outage_atom, bool outage) {
      self->state.outage = outage;
      self->state.paused = outage || self->state.paused;
    },
  };
}

} // namespace troupe::sim
