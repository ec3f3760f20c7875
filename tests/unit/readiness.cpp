// Readiness: required sources gate it until they report, supervisors count
// once they report trouble, the answer names the first required source that
// is not ready, and a supervisor in front of a typed child is typed as it.
#define CAF_SUITE readiness
#include "runtime/readiness.hpp"

#include <caf/test/dsl.hpp>

#include "runtime/supervisor.hpp"

using namespace troupe;

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pinger_actor = caf::typed_actor<caf::replies_to<ping_atom>::with<int>>;

pinger_actor::behavior_type pinger(pinger_actor::pointer) {
  return {[](ping_atom) { return 42; }};
}

struct fixture : test_coordinator_fixture<> {
  std::shared_ptr<readiness_view> view = std::make_shared<readiness_view>();
  readiness_actor r;

  fixture() {
    r = sys.spawn(readiness, view);
    sched.run();
  }

  void report(const std::string& source, bool ok, const std::string& why) {
    caf::anon_send(r, health_atom::value, source, ok, why);
    sched.run();
  }

  std::string answer() {
    std::string why;
    return view->ready(why) ? "ready" : why;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(readiness_tests, fixture)

CAF_TEST(the node is not ready until it is wired and every check reported) {
  CAF_CHECK_EQUAL(answer(), "starting");
  caf::anon_send(r, require_atom::value, std::string{"postgres"});
  caf::anon_send(r, require_atom::value, std::string{"kafka"});
  sched.run();
  report("node", true, "");
  CAF_CHECK_EQUAL(answer(), "starting");
  report("kafka", false, "kafka: brokers unreachable");
  report("postgres", true, "");
  CAF_CHECK_EQUAL(answer(), "kafka: brokers unreachable");
  report("kafka", true, "");
  CAF_CHECK_EQUAL(answer(), "ready");
}

CAF_TEST(the first required source in order names the reason) {
  caf::anon_send(r, require_atom::value, std::string{"postgres"});
  caf::anon_send(r, require_atom::value, std::string{"kafka"});
  sched.run();
  report("node", true, "");
  report("kafka", false, "kafka: brokers unreachable");
  report("postgres", false, "postgres: connection refused");
  CAF_CHECK_EQUAL(answer(), "postgres: connection refused");
  // Requiring a source twice does not reset it.
  report("postgres", true, "");
  caf::anon_send(r, require_atom::value, std::string{"postgres"});
  sched.run();
  CAF_CHECK_EQUAL(answer(), "kafka: brokers unreachable");
}

CAF_TEST(supervisors with children down come after the required sources) {
  report("node", true, "");
  CAF_CHECK_EQUAL(answer(), "ready");
  report("payment", false, "payment (restart 1 in 100 ms)");
  report("io", false, "consumer payment (restart 2 in 200 ms)");
  CAF_CHECK_EQUAL(answer(), "restarting: consumer payment (restart 2 in 200 "
                            "ms) payment (restart 1 in 100 ms)");
  report("node", false, "shutting down");
  CAF_CHECK_EQUAL(answer(), "shutting down");
  report("node", true, "");
  report("payment", true, "");
  report("io", true, "");
  CAF_CHECK_EQUAL(answer(), "ready");
}

CAF_TEST(a supervisor reports its health to readiness) {
  report("node", true, "");
  supervisor_config sc;
  sc.on_health = report_health(r, "worker");
  sc.unit = [] { return 0.5; };
  // A child that fails on start: the supervisor is unhealthy while it backs
  // off, and readiness says so.
  std::vector<child_spec> children{
    {"worker", [](caf::local_actor* parent) {
       return parent->system().spawn([](caf::event_based_actor* self) {
         self->quit(caf::exit_reason::user_shutdown);
       });
     }}};
  auto sup = sys.spawn(supervisor, children, sc);
  sched.run();
  CAF_CHECK_NOT_EQUAL(answer(), "ready");
  CAF_CHECK(answer().find("restarting:") == 0);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(a supervised typed child is reached through the supervisor) {
  supervisor_config sc;
  pinger_actor p = supervise_one(sys, "pinger", sc, [](caf::actor_system& s) {
    return s.spawn(pinger);
  });
  sched.run();
  auto self = caf::scoped_actor{sys};
  self->send(p, ping_atom::value);
  sched.run();
  int got = 0;
  self->receive([&](int x) { got = x; });
  CAF_CHECK_EQUAL(got, 42);
  caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST_FIXTURE_SCOPE_END()
