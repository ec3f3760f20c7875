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
  st.uncommitted = false;
}

/// Notices a new generation: revokes what is held (waiting for its work),
/// then takes the new assignment at the committed offsets.
void follow_group(consumer_ptr self) {
  auto& st = self->state;
  auto gen = st.cfg.bus->generation(st.cfg.group, st.cfg.member);
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
  st.generation = st.cfg.bus->generation(st.cfg.group, st.cfg.member);
  st.assigned = st.cfg.bus->assignment(st.cfg.group, st.cfg.member);
  st.position.clear();
  for (auto& tp : st.assigned)
    st.position[{tp.topic, tp.partition}] = st.cfg.bus->committed(st.cfg.group,
                                                                  tp);
  if (st.cfg.on_assigned && !st.assigned.empty())
    st.cfg.on_assigned(st.core->first_topic_partitions(st.assigned));
}

void tick(consumer_ptr self);
void arm(consumer_ptr self);

void fetch(consumer_ptr self) {
  auto& st = self->state;
  st.backlog = false;
  for (auto& tp : st.assigned) {
    if (st.paused || st.core->full() || st.core->revoking(tp)) {
      st.backlog = true;
      break;
    }
    auto& pos = st.position[{tp.topic, tp.partition}];
    for (auto& rec : st.cfg.bus->fetch(tp, pos, st.cfg.fetch_max)) {
      pos = rec.offset + 1;
      auto job = st.core->accept(fetched_message{
        tp.topic, tp.partition, rec.offset, rec.key, rec.value});
      if (!job)
        continue;
      if (st.cfg.on_job)
        st.cfg.on_job(*job);
      // Whatever the offset tracker says is done by now goes out with the
      // next commit, as a consumer committing on a timer does.
      st.uncommitted = true;
      auto id = job->id;
      self->request(st.delivery, caf::infinite, std::move(*job))
        .then(
          [=](delivery_outcome x) {
            auto& st = self->state;
            st.core->complete(id, x);
            st.uncommitted = true;
            // Paused or revoking, the consumer waits for exactly this;
            // otherwise the commit timer picks the offset up.
            if (st.paused || st.revoking)
              tick(self);
            else
              arm(self);
          },
          [=](caf::error& err) { self->quit(err); });
      if (st.core->full())
        break;
    }
    if (pos < st.cfg.bus->end_offset(tp))
      st.backlog = true; // more than one fetch holds
  }
  st.paused = st.core->pause_wanted(st.outage, st.paused);
}

/// Polls again after `poll_interval` while something waits on time: a
/// commit, a revocation's grace, a backlog, a pause. An idle consumer arms
/// nothing; the bus wakes it when a record or a new generation arrives.
void arm(consumer_ptr self) {
  auto& st = self->state;
  if (st.timer_armed
      || !(st.uncommitted || st.revoking || st.backlog || st.paused))
    return;
  st.timer_armed = true;
  self->delayed_send(self, st.cfg.poll_interval, poll_atom::value);
}

void tick(consumer_ptr self) {
  auto& st = self->state;
  follow_group(self);
  if (!st.revoking)
    fetch(self);
  if (st.uncommitted
      && self->clock().now() - st.last_commit >= st.cfg.commit_interval)
    commit(self);
  arm(self);
}

} // namespace

caf::behavior consumer(caf::stateful_actor<consumer_state>* self,
                       consumer_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.core = std::make_unique<consumer_core>(
    st.cfg.routes.topics(), st.cfg.decode, st.cfg.max_in_flight);
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
  // A weak handle: the bus outlives the consumer and must not keep it.
  auto me = self->address();
  st.cfg.bus->watch(st.cfg.group, st.cfg.member, [me] {
    auto a = caf::actor_cast<caf::actor>(me);
    if (a)
      caf::anon_send(a, wake_atom::value);
    return static_cast<bool>(a);
  });
  st.cfg.bus->join(st.cfg.group, st.cfg.member, st.cfg.routes.topics());
  self->send(self, poll_atom::value);
  return {
    [=](poll_atom) {
      self->state.timer_armed = false;
      tick(self);
    },
    [=](wake_atom) { tick(self); },
    [=](outage_atom, bool outage) {
      auto& st = self->state;
      st.outage = outage;
      st.paused = outage || st.paused;
      if (!outage)
        tick(self); // fetch again
    },
  };
}

} // namespace troupe::sim
