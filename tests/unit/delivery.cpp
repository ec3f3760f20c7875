// Delivery of consumed messages: the exact retry schedule under simulated
// time, jitter within its bounds, the dead-letter route once the budget is
// spent (with the message's history), malformed messages and final errors
// dead-lettered at once, and store outages that wait without spending the
// budget while the consumer is told to stop fetching.
#define CAF_SUITE delivery
#include "runtime/delivery.hpp"

#include <deque>
#include <map>
#include <memory>
#include <optional>

#include <caf/test/dsl.hpp>

#include "base/errors.hpp"

using namespace troupe;
using namespace std::chrono_literals;

namespace {

/// What the fakes saw; shared between the test and the fake actors.
struct recorder {
  std::deque<caf::error> handler_script; ///< errors to answer, in order
  std::deque<caf::error> dlq_script;     ///< errors of dead-letter writes
  int handler_calls = 0;
  std::vector<dead_letter> dead_letters;
  std::deque<caf::error> direct_script; ///< errors of direct Kafka writes
  std::vector<dead_letter> direct;      ///< dead letters sent to Kafka directly
  std::vector<retry_note> notes;
  std::vector<bool> outages;
  std::optional<delivery_outcome> outcome; ///< the last reply to the consumer
  std::map<uint64_t, delivery_outcome> outcomes; ///< all replies, by job id
};

using rec_ptr = std::shared_ptr<recorder>;

using order_handler = event_handler_actor<order_created>;

/// A handler that fails as scripted, then succeeds.
order_handler::behavior_type scripted_handler(order_handler::pointer,
                                              rec_ptr rec) {
  return {
    [=](order_created&) -> caf::result<write_outcome> {
      ++rec->handler_calls;
      if (rec->handler_script.empty())
        return write_outcome::applied;
      auto err = rec->handler_script.front();
      rec->handler_script.pop_front();
      return err;
    },
  };
}

dead_letter_actor::behavior_type fake_dlq(dead_letter_actor::pointer,
                                          rec_ptr rec) {
  return {
    [=](dead_letter& x) -> caf::result<write_outcome> {
      if (!rec->dlq_script.empty()) {
        auto err = rec->dlq_script.front();
        rec->dlq_script.pop_front();
        return err;
      }
      rec->dead_letters.push_back(std::move(x));
      return write_outcome::applied;
    },
    [=](retry_note& x) {
      rec->notes.push_back(std::move(x));
      return write_outcome::applied;
    },
  };
}

dead_letter_fallback_actor::behavior_type
fake_direct(dead_letter_fallback_actor::pointer, rec_ptr rec) {
  return {
    [=](dead_letter& x) -> caf::result<write_outcome> {
      if (!rec->direct_script.empty()) {
        auto err = rec->direct_script.front();
        rec->direct_script.pop_front();
        return err;
      }
      rec->direct.push_back(std::move(x));
      return write_outcome::applied;
    },
  };
}

caf::behavior outage_listener(caf::event_based_actor*, rec_ptr rec) {
  return {
    [=](outage_atom, bool outage) { rec->outages.push_back(outage); },
  };
}

/// Stands in for the consumer: submits one job and records the reply.
caf::behavior client(caf::event_based_actor* self, delivery_actor d,
                     delivery_job job, rec_ptr rec) {
  auto id = job.id;
  self->request(d, caf::infinite, std::move(job)).then([=](delivery_outcome x) {
    rec->outcome = x;
    rec->outcomes[id] = x;
  });
  return {
    [](int) {},
  };
}

struct fixture : test_coordinator_fixture<> {
  rec_ptr rec = std::make_shared<recorder>();
  double unit = 0.5; // the jitter's midpoint: no spread
  delivery_actor d;
  std::optional<delivery_outcome>& outcome = rec->outcome;

  void start(retry_policy p) {
    delivery_config cfg;
    cfg.consumer = "payment";
    cfg.routes.add(topics::order_created, sys.spawn(scripted_handler, rec));
    cfg.dead_letters = sys.spawn(fake_dlq, rec);
    cfg.fallback = sys.spawn(fake_direct, rec);
    cfg.retry = p;
    cfg.listener = sys.spawn(outage_listener, rec);
    cfg.unit = [this] { return unit; };
    // A fake clock: milliseconds of simulated time since the start.
    auto t0 = sched.clock().now();
    cfg.now = [this, t0] {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        sched.clock().now() - t0);
      return "t+" + std::to_string(ms.count()) + "ms";
    };
    d = sys.spawn(delivery, cfg);
    sched.run();
  }

  delivery_job job(std::string malformed = "", uint64_t id = 7) {
    delivery_job j;
    j.id = id;
    j.topic = "order.created";
    j.partition = 2;
    j.offset = 41;
    j.key = "o-1";
    j.payload = "{...}";
    j.correlation_id = "corr-1";
    j.malformed = std::move(malformed);
    if (j.malformed.empty())
      j.event = caf::make_message(
        order_created{"ev-1", "o-1", "corr-1", "a@b.c", "SKU", 1, 100});
    return j;
  }

  void submit(delivery_job j) {
    sys.spawn(client, d, std::move(j), rec);
    sched.run();
  }

  void collect() {
    sched.run();
  }

  void advance(caf::timespan t) {
    sched.advance_time(t);
    sched.run();
  }

  void fail_times(int n, caf::error err) {
    for (int i = 0; i < n; ++i)
      rec->handler_script.push_back(err);
  }
};

retry_policy policy() {
  retry_policy p;
  p.base = 100ms;
  p.factor = 2.0;
  p.cap = 1000ms;
  p.max_attempts = 5;
  p.jitter = 0.2;
  return p;
}

caf::error flaky() {
  return make_error(troupe_errc::timeout, "handler did not answer");
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(delivery_tests, fixture)

CAF_TEST(a failing handler is retried on the exponential schedule) {
  start(policy());
  fail_times(3, flaky());
  submit(job());
  CAF_CHECK_EQUAL(rec->handler_calls, 1);
  std::vector<int> delays{100, 200, 400};
  for (auto delay : delays) {
    auto before = rec->handler_calls;
    advance(std::chrono::milliseconds(delay - 1));
    CAF_CHECK_EQUAL(rec->handler_calls, before);
    advance(1ms);
    CAF_CHECK_EQUAL(rec->handler_calls, before + 1);
  }
  collect();
  CAF_REQUIRE(outcome);
  CAF_CHECK_EQUAL(*outcome, delivery_outcome::handled);
  CAF_CHECK(rec->dead_letters.empty());
  // Each retry is noted on the order's timeline.
  CAF_REQUIRE_EQUAL(rec->notes.size(), 3u);
  CAF_CHECK_EQUAL(rec->notes[0], (retry_note{"o-1", "payment", "order.created",
                                             1, 100, describe(flaky())}));
  CAF_CHECK_EQUAL(rec->notes[2].attempt, 3);
  CAF_CHECK_EQUAL(rec->notes[2].delay_ms, 400);
}

CAF_TEST(jitter moves each retry within its bounds) {
  start(policy());
  fail_times(2, flaky());
  unit = 0.0; // the earliest: 100 ms - 20 %
  submit(job());
  advance(79ms);
  CAF_CHECK_EQUAL(rec->handler_calls, 1);
  unit = 0.999999; // the latest: 200 ms + 20 %
  advance(1ms);
  CAF_CHECK_EQUAL(rec->handler_calls, 2);
  advance(239ms);
  CAF_CHECK_EQUAL(rec->handler_calls, 2);
  advance(1ms);
  CAF_CHECK_EQUAL(rec->handler_calls, 3);
}

CAF_TEST(
  a spent budget routes the message to the dead letters with its history) {
  start(policy());
  fail_times(100, flaky());
  submit(job());
  // 5 attempts in all: retries after 100, 200, 400 and 800 ms.
  advance(100ms);
  advance(200ms);
  advance(400ms);
  CAF_CHECK(rec->dead_letters.empty());
  advance(800ms);
  CAF_CHECK_EQUAL(rec->handler_calls, 5);
  collect();
  CAF_REQUIRE(outcome);
  CAF_CHECK_EQUAL(*outcome, delivery_outcome::dead_lettered);
  CAF_REQUIRE_EQUAL(rec->dead_letters.size(), 1u);
  dead_letter expected{"order.created",   2, 41,      "o-1",      "{...}",
                       describe(flaky()), 5, "t+0ms", "t+1500ms", "corr-1",
                       "payment"};
  CAF_CHECK_EQUAL(rec->dead_letters[0], expected);
  // Nothing more happens to it.
  advance(10s);
  CAF_CHECK_EQUAL(rec->handler_calls, 5);
  CAF_CHECK_EQUAL(rec->dead_letters.size(), 1u);
}

CAF_TEST(a malformed message is dead - lettered at once) {
  start(policy());
  submit(job("malformed_event: missing field 'order_id'"));
  collect();
  CAF_CHECK_EQUAL(rec->handler_calls, 0);
  CAF_REQUIRE(outcome);
  CAF_CHECK_EQUAL(*outcome, delivery_outcome::dead_lettered);
  CAF_REQUIRE_EQUAL(rec->dead_letters.size(), 1u);
  CAF_CHECK_EQUAL(rec->dead_letters[0].error,
                  "malformed_event: missing field 'order_id'");
  CAF_CHECK_EQUAL(rec->dead_letters[0].attempts, 1);
  CAF_CHECK(rec->notes.empty());
}

CAF_TEST(an error no retry can fix is dead - lettered after one attempt) {
  start(policy());
  fail_times(1, make_error(troupe_errc::storage_rejected, "check violated"));
  submit(job());
  collect();
  CAF_CHECK_EQUAL(rec->handler_calls, 1);
  CAF_REQUIRE_EQUAL(rec->dead_letters.size(), 1u);
  CAF_CHECK_EQUAL(rec->dead_letters[0].error,
                  "storage_rejected: check violated");
  CAF_CHECK_EQUAL(rec->dead_letters[0].attempts, 1);
}

CAF_TEST(a store outage waits at the capped delay without spending the budget) {
  start(policy());
  fail_times(12, make_error(troupe_errc::storage_unavailable, "down"));
  submit(job());
  // The consumer is told to stop fetching at the first outage error.
  CAF_REQUIRE_EQUAL(rec->outages.size(), 1u);
  CAF_CHECK_EQUAL(rec->outages[0], true);
  // 12 failures: far beyond the budget of 5, yet no dead letter.
  for (auto delay :
       {100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}) {
    auto before = rec->handler_calls;
    advance(std::chrono::milliseconds(delay));
    CAF_CHECK_EQUAL(rec->handler_calls, before + 1);
  }
  collect();
  CAF_REQUIRE(outcome);
  CAF_CHECK_EQUAL(*outcome, delivery_outcome::handled);
  CAF_CHECK(rec->dead_letters.empty());
  CAF_CHECK(rec->notes.empty());
  // ... and to fetch again once a write went through.
  CAF_REQUIRE_EQUAL(rec->outages.size(), 2u);
  CAF_CHECK_EQUAL(rec->outages[1], false);
}

CAF_TEST(when the store answers again every job waiting for it goes at once) {
  start(policy());
  fail_times(4, make_error(troupe_errc::storage_unavailable, "down"));
  submit(job("", 1)); // t=0: fails, next try at 100 ms
  advance(100ms);     // t=100: fails, next try at 300 ms
  submit(job("", 2)); // t=100: fails, next try at 200 ms
  advance(100ms);     // t=200: job 2 fails, next try at 400 ms
  CAF_CHECK_EQUAL(rec->handler_calls, 4);
  CAF_CHECK(rec->outcomes.empty());
  advance(100ms); // t=300: job 1 goes through, and job 2 right after it
  CAF_CHECK_EQUAL(rec->handler_calls, 6);
  CAF_CHECK_EQUAL(rec->outcomes.size(), 2u);
  CAF_CHECK_EQUAL(rec->outages, (std::vector<bool>{true, false}));
  // The superseded timer of job 2 changes nothing.
  advance(1s);
  CAF_CHECK_EQUAL(rec->handler_calls, 6);
}

CAF_TEST(a failed dead - letter write is repeated until it lands) {
  start(policy());
  rec->dlq_script.push_back(
    make_error(troupe_errc::storage_unavailable, "down"));
  rec->dlq_script.push_back(
    make_error(troupe_errc::storage_unavailable, "down"));
  submit(job("malformed_event: not JSON"));
  CAF_CHECK(rec->dead_letters.empty());
  advance(100ms);
  CAF_CHECK(rec->dead_letters.empty());
  advance(200ms);
  collect();
  CAF_REQUIRE_EQUAL(rec->dead_letters.size(), 1u);
  CAF_CHECK_EQUAL(rec->dead_letters[0].attempts, 1);
  CAF_REQUIRE(outcome);
  CAF_CHECK_EQUAL(*outcome, delivery_outcome::dead_lettered);
}

CAF_TEST(a dead letter the store refuses goes straight to Kafka) {
  start(policy());
  rec->dlq_script.push_back(
    make_error(troupe_errc::storage_rejected,
               "invalid byte sequence for encoding \"UTF8\": 0xff"));
  submit(job("malformed_event: not JSON"));
  collect();
  CAF_CHECK(rec->dead_letters.empty());
  CAF_REQUIRE_EQUAL(rec->direct.size(), 1u);
  CAF_CHECK_EQUAL(rec->direct[0].topic, "order.created");
  CAF_CHECK_EQUAL(rec->direct[0].payload, "{...}");
  CAF_REQUIRE(outcome);
  CAF_CHECK_EQUAL(*outcome, delivery_outcome::dead_lettered);
  // Nothing keeps retrying afterwards.
  advance(60s);
  CAF_CHECK_EQUAL(rec->direct.size(), 1u);
  CAF_CHECK(rec->dead_letters.empty());
}

CAF_TEST(a dead - letter write that keeps timing out ends on Kafka too) {
  start(policy());
  for (int i = 0; i < 5; ++i)
    rec->dlq_script.push_back(make_error(troupe_errc::timeout, "slow"));
  submit(job("malformed_event: not JSON"));
  for (int i = 0; i < 10; ++i)
    advance(1s);
  CAF_CHECK(rec->dead_letters.empty());
  CAF_REQUIRE_EQUAL(rec->direct.size(), 1u);
  CAF_REQUIRE(outcome);
  CAF_CHECK_EQUAL(*outcome, delivery_outcome::dead_lettered);
}

CAF_TEST(a message neither the store nor Kafka takes still ends) {
  start(policy());
  rec->dlq_script.push_back(make_error(troupe_errc::storage_rejected, "no"));
  rec->direct_script.push_back(
    make_error(troupe_errc::internal, "kafka: message size too large"));
  submit(job("malformed_event: not JSON"));
  collect();
  CAF_CHECK(rec->dead_letters.empty());
  CAF_CHECK(rec->direct.empty());
  CAF_REQUIRE(outcome);
  CAF_CHECK_EQUAL(*outcome, delivery_outcome::dead_lettered);
  advance(60s);
  CAF_CHECK(rec->direct.empty());
}

CAF_TEST(an unknown failure inside the store is final not an outage) {
  start(policy());
  fail_times(1, make_error(troupe_errc::internal, "type_error: invalid UTF-8"));
  submit(job());
  collect();
  CAF_CHECK_EQUAL(rec->handler_calls, 1);
  CAF_CHECK(rec->outages.empty());
  CAF_REQUIRE_EQUAL(rec->dead_letters.size(), 1u);
  CAF_CHECK_EQUAL(rec->dead_letters[0].attempts, 1);
}

CAF_TEST(a read only database is an outage not a final error) {
  start(policy());
  fail_times(3, make_error(troupe_errc::storage_unavailable,
                           "cannot execute INSERT in a read-only transaction"));
  submit(job());
  advance(100ms);
  advance(200ms);
  advance(400ms);
  collect();
  CAF_CHECK(rec->dead_letters.empty());
  CAF_REQUIRE(outcome);
  CAF_CHECK_EQUAL(*outcome, delivery_outcome::handled);
}

CAF_TEST(a handed off message is dropped without pausing the consumer) {
  start(policy());
  fail_times(1, make_error(troupe_errc::handed_off,
                           "fenced: the order's partition moved"));
  submit(job());
  collect();
  CAF_CHECK_EQUAL(rec->handler_calls, 1);
  CAF_CHECK(rec->outages.empty());
  CAF_CHECK(rec->dead_letters.empty());
  CAF_REQUIRE(outcome);
  CAF_CHECK_EQUAL(*outcome, delivery_outcome::handed_off);
  advance(10s);
  CAF_CHECK_EQUAL(rec->handler_calls, 1);
}

CAF_TEST(a revoked partition takes its waiting jobs out of memory) {
  start(policy());
  fail_times(100, flaky());
  submit(job("", 1));
  auto other = job("", 2);
  other.partition = 3;
  submit(other);
  CAF_CHECK_EQUAL(rec->handler_calls, 2);
  self->send(d, revoke_atom::value, std::string{"order.created"}, int32_t{2});
  collect();
  CAF_CHECK_EQUAL(rec->outcomes.size(), 1u);
  CAF_CHECK_EQUAL(rec->outcomes[1], delivery_outcome::handed_off);
  CAF_CHECK_EQUAL(
    deref<delivery_actor::stateful_base<delivery_state>>(d).state.jobs.size(),
    1u);
  advance(100ms); // only the job of partition 3 is retried
  CAF_CHECK_EQUAL(rec->handler_calls, 3);
}

CAF_TEST(an outage ends when the jobs that waited for it were revoked) {
  // The only job waiting for the store belongs to a partition that moves:
  // with it gone nothing would ever probe the store again, and the consumer
  // would stay paused on its next assignment.
  start(policy());
  fail_times(100, make_error(troupe_errc::storage_unavailable, "down"));
  submit(job("", 1));
  CAF_REQUIRE_EQUAL(rec->outages.size(), 1u);
  CAF_CHECK_EQUAL(rec->outages[0], true);
  self->send(d, revoke_atom::value, std::string{"order.created"}, int32_t{2});
  collect();
  CAF_CHECK_EQUAL(rec->outcomes[1], delivery_outcome::handed_off);
  CAF_REQUIRE_EQUAL(rec->outages.size(), 2u);
  CAF_CHECK_EQUAL(rec->outages[1], false);
  // New work finds out again whether the store is back.
  submit(job("", 2));
  CAF_REQUIRE_EQUAL(rec->outages.size(), 3u);
  CAF_CHECK_EQUAL(rec->outages[2], true);
}

CAF_TEST_FIXTURE_SCOPE_END()
