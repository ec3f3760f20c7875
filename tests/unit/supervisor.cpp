// The supervisor: the exact backoff schedule of restarts under simulated
// time, jitter within its bounds, the storm bound at the cap, health.
#define CAF_SUITE supervisor
#include "runtime/supervisor.hpp"

#include <caf/test/dsl.hpp>

#include "base/errors.hpp"

using namespace troupe;
using namespace std::chrono_literals;

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;

/// A child that stops with an error when told to crash, and answers a ping
/// with its actor id (which differs between incarnations).
caf::behavior fragile(caf::event_based_actor* self) {
  return {
    [=](crash_atom) {
      self->quit(make_error(troupe_errc::storage_unavailable, "boom"));
    },
    [=](finish_atom) { self->quit(); }, // done: exit_reason::normal
    [=](ping_atom) { return static_cast<uint64_t>(self->id()); },
  };
}

struct fixture : test_coordinator_fixture<> {
  int starts = 0;
  caf::actor child;
  std::vector<std::pair<bool, std::string>> health;
  caf::actor sup;
  double unit = 0.5; // jitter midpoint: no spread

  void start_supervisor(retry_policy p = {}, std::string forward_to = "") {
    supervisor_config cfg;
    cfg.forward_to = std::move(forward_to);
    cfg.backoff = p;
    cfg.stable_after = 10s;
    cfg.unit = [this] { return unit; };
    cfg.on_health = [this](bool ok, const std::string& why) {
      health.emplace_back(ok, why);
    };
    child_spec spec{"worker", [this](caf::local_actor* parent) {
                      ++starts;
                      child = parent->spawn(fragile);
                      return child;
                    }};
    sup = sys.spawn(supervisor, std::vector<child_spec>{spec}, cfg);
    sched.run();
  }

  /// Pings through the supervisor: the answering child's id, or the error.
  caf::expected<uint64_t> ping() {
    auto rh = self->request(sup, caf::infinite, ping_atom::value);
    sched.run();
    caf::expected<uint64_t> result{caf::error{}};
    rh.receive([&](uint64_t x) { result = x; },
               [&](caf::error& e) { result = std::move(e); });
    return result;
  }

  void crash() {
    anon_send(child, crash_atom::value);
    sched.run();
  }

  void finish() {
    anon_send(child, finish_atom::value);
    sched.run();
  }

  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }

  ~fixture() {
    anon_send_exit(sup, caf::exit_reason::user_shutdown);
    sched.run();
  }
};

retry_policy policy(std::chrono::milliseconds base,
                    std::chrono::milliseconds cap) {
  retry_policy p;
  p.base = base;
  p.factor = 2.0;
  p.cap = cap;
  p.jitter = 0.2;
  return p;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(supervisor_tests, fixture)

CAF_TEST(a crashed child is restarted after the base delay) {
  start_supervisor(policy(100ms, 1000ms));
  CAF_CHECK_EQUAL(starts, 1);
  crash();
  CAF_REQUIRE_EQUAL(health.size(), 1u);
  CAF_CHECK_EQUAL(health.back().first, false);
  CAF_CHECK_EQUAL(health.back().second, "worker down");
  advance(99ms);
  CAF_CHECK_EQUAL(starts, 1);
  advance(1ms);
  CAF_CHECK_EQUAL(starts, 2);
}

CAF_TEST(repeated crashes back off exponentially up to the cap) {
  start_supervisor(policy(100ms, 1000ms));
  std::vector<int> expected{100, 200, 400, 800, 1000, 1000, 1000};
  for (auto delay : expected) {
    crash();
    advance(std::chrono::milliseconds(delay - 1));
    auto before = starts;
    advance(1ms);
    CAF_CHECK_EQUAL(starts, before + 1);
  }
  CAF_CHECK_EQUAL(starts, 8);
  // Still restarting: not healthy until the child runs stably.
  CAF_CHECK_EQUAL(health.back().first, false);
  advance(10s);
  CAF_CHECK_EQUAL(health.back().first, true);
  // A stable run resets the backoff.
  crash();
  advance(100ms);
  CAF_CHECK_EQUAL(starts, 9);
}

CAF_TEST(jitter moves the delay within its bounds) {
  start_supervisor(policy(1000ms, 10000ms));
  unit = 0.0; // the earliest: base - 20 %
  crash();
  advance(799ms);
  CAF_CHECK_EQUAL(starts, 1);
  advance(1ms);
  CAF_CHECK_EQUAL(starts, 2);
  unit = 0.999999; // the latest: (2 x base) + 20 %
  crash();
  advance(2399ms);
  CAF_CHECK_EQUAL(starts, 2);
  advance(1ms);
  CAF_CHECK_EQUAL(starts, 3);
}

CAF_TEST(stopping the supervisor stops its children) {
  start_supervisor(policy(100ms, 1000ms));
  auto first = child;
  anon_send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK(deref<caf::scheduled_actor>(first).getf(
    caf::abstract_actor::is_terminated_flag));
  advance(10s);
  CAF_CHECK_EQUAL(starts, 1);
}

CAF_TEST(a supervisor that is killed takes its children with it) {
  // `kill` cannot be trapped: the supervisor gets no chance to stop its
  // children itself. Its links to them end them anyway.
  start_supervisor(policy(100ms, 1000ms));
  crash();
  advance(100ms);
  CAF_REQUIRE_EQUAL(starts, 2);
  auto second = child;
  anon_send_exit(sup, caf::exit_reason::kill);
  sched.run();
  CAF_CHECK(deref<caf::scheduled_actor>(sup).getf(
    caf::abstract_actor::is_terminated_flag));
  CAF_CHECK(deref<caf::scheduled_actor>(second).getf(
    caf::abstract_actor::is_terminated_flag));
  advance(10s);
  CAF_CHECK_EQUAL(starts, 2);
}

CAF_TEST(a crashed child does not stop its supervisor or its siblings) {
  start_supervisor(policy(100ms, 1000ms));
  for (int i = 0; i < 3; ++i) {
    crash();
    advance(1000ms);
  }
  CAF_CHECK_EQUAL(starts, 4);
  CAF_CHECK(!deref<caf::scheduled_actor>(sup).getf(
    caf::abstract_actor::is_terminated_flag));
  CAF_CHECK(!deref<caf::scheduled_actor>(child).getf(
    caf::abstract_actor::is_terminated_flag));
}

CAF_TEST(
  a supervisor in front of its child forwards to the current incarnation) {
  start_supervisor(policy(100ms, 1000ms), "worker");
  auto first = ping();
  CAF_REQUIRE(first);
  CAF_CHECK_EQUAL(*first, child.id());
  crash();
  // Down: senders get a retryable error instead of a dead end.
  auto down = ping();
  CAF_REQUIRE(!down);
  CAF_CHECK_EQUAL(describe(down.error()), "unavailable: worker is restarting");
  CAF_CHECK(retryable(down.error()));
  advance(100ms);
  auto second = ping();
  CAF_REQUIRE(second);
  CAF_CHECK_EQUAL(*second, child.id());
  CAF_CHECK_NOT_EQUAL(*first, *second);
}

CAF_TEST(a child that stops normally is not restarted and is reported stopped) {
  start_supervisor(policy(100ms, 1000ms));
  finish();
  advance(10s);
  CAF_CHECK_EQUAL(starts, 1);
  // Finished is not unhealthy: the node stays ready; the report says stopped.
  CAF_REQUIRE(!health.empty());
  CAF_CHECK_EQUAL(health.back().first, true);
  CAF_CHECK_EQUAL(health.back().second, "worker stopped");
  for (auto& [ok, why] : health)
    CAF_CHECK(ok);
}

CAF_TEST(
  a supervisor whose forwarded child finished answers with a final error) {
  start_supervisor(policy(100ms, 1000ms), "worker");
  finish();
  advance(10s);
  CAF_CHECK_EQUAL(starts, 1);
  auto after = ping();
  CAF_REQUIRE(!after);
  CAF_CHECK_EQUAL(describe(after.error()), "not_found: worker has stopped");
  CAF_CHECK(!retryable(after.error()));
}

CAF_TEST(a restarted child that then stops normally is not restarted again) {
  start_supervisor(policy(100ms, 1000ms));
  crash();
  advance(100ms);
  CAF_CHECK_EQUAL(starts, 2);
  finish();
  advance(10s);
  CAF_CHECK_EQUAL(starts, 2);
  CAF_CHECK_EQUAL(health.back().first, true);
  CAF_CHECK_EQUAL(health.back().second, "worker stopped");
}

CAF_TEST_FIXTURE_SCOPE_END()
