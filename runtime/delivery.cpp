// Delivery: dispatch, retry schedule, dead letters, outage detection.
#include "runtime/delivery.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "base/errors.hpp"
#include "observability/log.hpp"
#include "observability/tracing.hpp"

namespace troupe {

namespace {

/// Schedules the next try of job `id` after `delay`; supersedes any other.
void schedule(delivery_ptr self, uint64_t id, std::chrono::milliseconds delay) {
  auto& p = self->state.jobs[id];
  ++p.timer;
  if (delay.count() == 0)
    self->send(self, retry_atom::value, id, p.timer);
  else
    self->delayed_send(self, delay, retry_atom::value, id, p.timer);
}

void set_outage(delivery_ptr self, bool outage, const std::string& why = {}) {
  auto& st = self->state;
  if (st.outage == outage)
    return;
  st.outage = outage;
  if (!outage) {
    // The store answers again: what waited for it goes now.
    for (auto& [id, p] : st.jobs)
      if (p.waiting_out_outage) {
        p.waiting_out_outage = false;
        schedule(self, id, std::chrono::milliseconds{0});
      }
  }
  if (outage)
    log::warn("delivery", "{}: waiting until the store takes work again ({})",
              st.cfg.consumer, why);
  else
    log::info("delivery", "{}: the store takes work again", st.cfg.consumer);
  if (st.cfg.listener)
    caf::anon_send(st.cfg.listener, outage_atom::value, outage);
}

/// An outage is known only through the jobs waiting it out. When none is
/// left (they ended or were revoked), nothing would probe the store again
/// and the consumer would stay paused for good: let it fetch, and new work
/// finds out whether the store is back.
void end_outage_if_idle(delivery_ptr self) {
  auto& st = self->state;
  if (st.outage && st.jobs.empty()) {
    log::info("delivery", "{}: no work waits for the store any more",
              st.cfg.consumer);
    set_outage(self, false);
  }
}

/// Ends a job. `store_answered`: its end proves the store works again.
void finish(delivery_ptr self, uint64_t id, delivery_outcome outcome,
            bool store_answered = true) {
  auto& st = self->state;
  auto i = st.jobs.find(id);
  if (i == st.jobs.end())
    return;
  if (store_answered)
    set_outage(self, false);
  auto& job = i->second.job;
  if (tracing::enabled() && !job.parent_span.empty())
    tracing::finish(
      job.traceparent, job.parent_span, st.cfg.consumer + " " + job.topic,
      tracing::span_kind::consumer, i->second.started,
      {{"messaging.system", "kafka"},
       {"messaging.operation", "process"},
       {"messaging.destination.name", job.topic},
       {"messaging.consumer.group.name", st.cfg.consumer},
       {"messaging.kafka.message.key", job.key},
       {"messaging.kafka.partition", std::to_string(job.partition)},
       {"messaging.kafka.offset", std::to_string(job.offset)},
       {"troupe.outcome", to_string(outcome)},
       {"troupe.attempts", std::to_string(i->second.attempts)}},
      outcome == delivery_outcome::dead_lettered);
  i->second.promise.deliver(outcome);
  st.jobs.erase(i);
  end_outage_if_idle(self);
}

void write_dead_letter(delivery_ptr self, uint64_t id);

/// Waits out an outage of the store: probes at a growing delay (capped at
/// `outage_probe`), woken early when the store answers again.
void wait_out_outage(delivery_ptr self, pending_job& p, uint64_t id) {
  auto& st = self->state;
  set_outage(self, true, p.last_error);
  ++p.outage_waits;
  auto probe = st.cfg.retry;
  probe.cap = std::min(probe.cap, st.cfg.outage_probe);
  schedule(self, id, backoff_delay(probe, p.outage_waits, st.cfg.unit()));
  p.waiting_out_outage = true;
}

/// Records the failure of the handler's try and decides what comes next.
void failed(delivery_ptr self, uint64_t id, const caf::error& err) {
  auto& st = self->state;
  auto i = st.jobs.find(id);
  if (i == st.jobs.end())
    return;
  auto& p = i->second;
  p.waiting_out_outage = false;
  if (p.first_failure.empty())
    p.first_failure = st.cfg.now();
  p.last_error = describe(err);
  auto tier = tier_of(err);
  if (tier == error_tier::handed_off) {
    // Another node owns the message's partition now and reads it from the
    // last committed offset: nothing to do here, and not an outage.
    log::debug_traced("delivery", p.job.key, p.job.correlation_id,
                      p.job.traceparent, "{}: {}[{}]@{} handed off: {}",
                      st.cfg.consumer, p.job.topic, p.job.partition,
                      p.job.offset, p.last_error);
    finish(self, id, delivery_outcome::handed_off, false);
    return;
  }
  if (tier == error_tier::outage) {
    // Not the message's fault: the attempt does not count.
    --p.attempts;
    wait_out_outage(self, p, id);
    return;
  }
  if (tier == error_tier::final || p.attempts >= st.cfg.retry.max_attempts) {
    write_dead_letter(self, id);
    return;
  }
  auto delay = backoff_delay(st.cfg.retry, p.attempts, st.cfg.unit());
  st.probe.retried(p.job.topic);
  log::debug_traced("delivery", p.job.key, p.job.correlation_id,
                    p.job.traceparent, "{}: retry {} of {}[{}]@{} in {} ms: {}",
                    st.cfg.consumer, p.attempts, p.job.topic, p.job.partition,
                    p.job.offset, delay.count(), p.last_error);
  retry_note note{p.job.key,  st.cfg.consumer, p.job.topic,
                  p.attempts, delay.count(),   p.last_error};
  // Best effort: the timeline note must not hold up the retry.
  self->request(st.cfg.dead_letters, st.cfg.handler_timeout, std::move(note))
    .then([](write_outcome) {}, [](caf::error&) {});
  schedule(self, id, delay);
}

void dispatch(delivery_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.jobs.find(id);
  if (i == st.jobs.end())
    return;
  auto& p = i->second;
  auto handler = st.cfg.routes.handler(p.job.topic);
  if (!handler) {
    p.last_error = "no handler for topic " + p.job.topic;
    write_dead_letter(self, id);
    return;
  }
  ++p.attempts;
  self->request(handler, st.cfg.handler_timeout, p.job.event)
    .then([=](write_outcome) { finish(self, id, delivery_outcome::handled); },
          [=](caf::error& err) { failed(self, id, err); });
}

/// The dead-letter write was refused for good: the `.dlq` copy goes straight
/// to Kafka. If Kafka refuses it too, the message ends here, logged and
/// counted.
void write_direct(delivery_ptr self, uint64_t id, dead_letter cmd) {
  auto& st = self->state;
  auto i = st.jobs.find(id);
  if (i == st.jobs.end())
    return;
  auto& p = i->second;
  p.direct = true;
  auto drop = [=](const std::string& why) {
    auto& st = self->state;
    auto i = st.jobs.find(id);
    if (i == st.jobs.end())
      return;
    auto& job = i->second.job;
    log::error_traced("delivery", job.key, job.correlation_id, job.traceparent,
                      "{}: {}[{}]@{} is lost: neither the store nor Kafka took "
                      "its dead letter ({}); it was: {}",
                      st.cfg.consumer, job.topic, job.partition, job.offset,
                      why, i->second.last_error);
    st.probe.dead_letter_dropped(job.topic);
    finish(self, id, delivery_outcome::dead_lettered, false);
  };
  if (!st.cfg.fallback) {
    drop("no direct route to Kafka");
    return;
  }
  self->request(st.cfg.fallback, st.cfg.handler_timeout, std::move(cmd))
    .then(
      [=](write_outcome) {
        auto& st = self->state;
        auto i = st.jobs.find(id);
        if (i == st.jobs.end())
          return;
        auto& topic = i->second.job.topic;
        st.probe.dead_lettered(topic);
        st.probe.dead_letter_direct(topic);
        finish(self, id, delivery_outcome::dead_lettered, false);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        auto i = st.jobs.find(id);
        if (i == st.jobs.end())
          return;
        auto& p = i->second;
        ++p.dead_letter_attempts;
        if (retryable(err)
            && p.dead_letter_attempts < 2 * st.cfg.retry.max_attempts) {
          schedule(self, id,
                   backoff_delay(st.cfg.retry, p.dead_letter_attempts,
                                 st.cfg.unit()));
          return;
        }
        drop(describe(err));
      });
}

/// The dead-letter write failed: wait out an outage; repeat a retryable
/// failure within the budget; otherwise go straight to Kafka.
void dead_letter_failed(delivery_ptr self, uint64_t id, const caf::error& err,
                        dead_letter cmd) {
  auto& st = self->state;
  auto i = st.jobs.find(id);
  if (i == st.jobs.end())
    return;
  auto& p = i->second;
  log::warn("delivery", "{}: dead-letter write failed: {}", st.cfg.consumer,
            describe(err));
  auto tier = tier_of(err);
  if (tier == error_tier::outage) {
    wait_out_outage(self, p, id);
    return;
  }
  ++p.dead_letter_attempts;
  if (tier == error_tier::retry
      && p.dead_letter_attempts < st.cfg.retry.max_attempts) {
    schedule(self, id,
             backoff_delay(st.cfg.retry, p.dead_letter_attempts,
                           st.cfg.unit()));
    return;
  }
  p.dead_letter_attempts = 0;
  cmd.error += " (the store refused the dead letter: " + describe(err) + ")";
  write_direct(self, id, std::move(cmd));
}

void write_dead_letter(delivery_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.jobs.find(id);
  if (i == st.jobs.end())
    return;
  auto& p = i->second;
  auto& job = p.job;
  dead_letter cmd;
  cmd.topic = job.topic;
  cmd.partition = job.partition;
  cmd.offset = job.offset;
  cmd.key = job.key;
  cmd.payload = job.payload;
  cmd.error = p.last_error;
  cmd.attempts = std::max(1, p.attempts);
  cmd.last_failure = st.cfg.now();
  cmd.first_failure = p.first_failure.empty() ? cmd.last_failure
                                              : p.first_failure;
  cmd.correlation_id = job.correlation_id;
  cmd.consumer = st.cfg.consumer;
  if (!p.dead_lettering)
    log::warn_traced("delivery", job.key, job.correlation_id, job.traceparent,
                     "{}: dead-lettering {}[{}]@{} after {} attempt(s): {}",
                     st.cfg.consumer, job.topic, job.partition, job.offset,
                     cmd.attempts, cmd.error);
  p.dead_lettering = true;
  if (p.direct) {
    write_direct(self, id, std::move(cmd));
    return;
  }
  self->request(st.cfg.dead_letters, st.cfg.handler_timeout, cmd)
    .then(
      [=, topic = job.topic](write_outcome) {
        self->state.probe.dead_lettered(topic);
        finish(self, id, delivery_outcome::dead_lettered);
      },
      [=](caf::error& err) { dead_letter_failed(self, id, err, cmd); });
}

} // namespace

delivery_actor::behavior_type delivery(delivery_ptr self, delivery_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.probe = delivery_probe{st.cfg.consumer};
  if (!st.cfg.unit)
    st.cfg.unit = jitter_source();
  return {
    [=](delivery_job& job) -> caf::result<delivery_outcome> {
      auto& st = self->state;
      auto id = job.id;
      auto rp = self->make_response_promise<delivery_outcome>();
      auto malformed = job.malformed;
      auto& p = st.jobs[id];
      p.job = std::move(job);
      p.promise = rp;
      if (!p.job.parent_span.empty())
        p.started = std::chrono::system_clock::now();
      if (!malformed.empty()) {
        // Retrying cannot fix a message that does not decode.
        p.last_error = std::move(malformed);
        p.attempts = 1;
        write_dead_letter(self, id);
      } else {
        dispatch(self, id);
      }
      return rp;
    },
    [=](retry_atom, uint64_t id, uint64_t timer) {
      auto& st = self->state;
      auto i = st.jobs.find(id);
      if (i == st.jobs.end() || i->second.timer != timer)
        return;
      i->second.waiting_out_outage = false;
      if (i->second.dead_lettering)
        write_dead_letter(self, id);
      else
        dispatch(self, id);
    },
    [=](revoke_atom, const std::string& topic, int32_t partition) {
      auto& jobs = self->state.jobs;
      for (auto i = jobs.begin(); i != jobs.end();) {
        if (i->second.job.topic == topic
            && i->second.job.partition == partition) {
          i->second.promise.deliver(delivery_outcome::handed_off);
          i = jobs.erase(i);
        } else {
          ++i;
        }
      }
      end_outage_if_idle(self);
    },
  };
}

} // namespace troupe
