// The shared PostgreSQL connection helper against a real server: set up
// once per connection, reopened after a reset, and, while the server
// cannot be reached, no new attempt before the backoff has passed.
#define CAF_SUITE connection
#include "adapters/postgres/connection.hpp"

#include <caf/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "tests/integration/environment.hpp"

using namespace troupe;
using namespace troupe::test;

CAF_TEST(every new connection is set up once and named) {
  auto url = fresh_database("it_connection");
  int setups = 0;
  pg_connection conn{url, "probe", [&](pqxx::connection& c) {
                       ++setups;
                       c.prepare("one", "SELECT 1");
                     }};
  auto* c = conn.get();
  CAF_REQUIRE(c != nullptr);
  CAF_CHECK(conn.get() == c); // the same connection while it is open
  CAF_CHECK_EQUAL(setups, 1);
  {
    pqxx::work tx{*c};
    CAF_CHECK_EQUAL(tx.exec_prepared1("one")[0].as<int>(), 1);
    auto name = tx.exec1("SELECT current_setting('application_name')")[0]
                  .as<std::string>();
    CAF_CHECK_EQUAL(name, "troupe-probe");
  }
  conn.reset();
  CAF_CHECK(!conn.is_open());
  CAF_REQUIRE(conn.get() != nullptr);
  CAF_CHECK_EQUAL(setups, 2);
}

CAF_TEST(an unreachable server is retried only after the backoff) {
  // Port 1 on the loopback refuses at once.
  pg_connection conn{"postgresql://troupe@127.0.0.1:1/none", "probe"};
  CAF_CHECK(conn.get() == nullptr);
  auto after_first = conn.backoff();
  CAF_CHECK(after_first > std::chrono::milliseconds{100});
  CAF_CHECK(conn.get() == nullptr); // within the backoff: no attempt
  CAF_CHECK_EQUAL(conn.backoff().count(), after_first.count());
  bool threw = false;
  try {
    conn.open(); // an explicit open tries now and says why it failed
  } catch (const std::exception&) {
    threw = true;
  }
  CAF_CHECK(threw);
  CAF_CHECK(conn.backoff() > after_first);
}
