// The outbox relay's logic without Kafka or SQL: a bounded window of
// batches in flight, marks of what was acknowledged, per-row backoff and
// publish budget, outages that spend nothing, and one open row per key.
#define CAF_SUITE relay_core
#include "runtime/relay_core.hpp"

#include <caf/test/unit_test.hpp>

using namespace troupe;
using namespace std::chrono_literals;

namespace {

using ids = std::vector<int64_t>;

relay_row row(int64_t id, std::string key, int32_t attempts = 0,
              std::string topic = "order.created") {
  return relay_row{id, std::move(topic), std::move(key), attempts};
}

relay_core::settings small() {
  relay_core::settings s;
  s.batch = 3;
  s.max_batches = 2;
  s.max_rows_in_flight = 5;
  s.max_attempts = 3;
  return s;
}

ids produced(const started_batch& b) {
  ids out;
  for (auto& r : b.produce)
    out.push_back(r.id);
  return out;
}

const auto t0 = relay_core::clock::time_point{} + 1h;

} // namespace

CAF_TEST(the relay keeps claiming while earlier batches are in flight) {
  relay_core core{small()};
  CAF_CHECK_EQUAL(core.claim_limit(), 3u);
  auto a = core.start({row(1, "a"), row(2, "b"), row(3, "c")}, t0);
  CAF_CHECK_EQUAL(produced(a), ids({1, 2, 3}));
  CAF_CHECK_EQUAL(core.claim_limit(), 2u); // five rows in flight at most
  auto b = core.start({row(4, "d"), row(5, "e")}, t0);
  CAF_CHECK_EQUAL(core.rows_in_flight(), 5u);
  CAF_CHECK_EQUAL(core.claim_limit(), 0u);
  CAF_CHECK(!core.take_settled(t0)); // no report yet
  // The second batch is acknowledged first: it settles on its own.
  core.delivered(4, publish_outcome::published);
  core.delivered(5, publish_outcome::published);
  auto s = core.take_settled(t0);
  CAF_REQUIRE(s);
  CAF_CHECK_EQUAL(s->id, b.id);
  CAF_CHECK_EQUAL(s->published(), ids({4, 5}));
  CAF_CHECK(!s->outage);
  CAF_CHECK_EQUAL(core.claim_limit(), 2u);
  CAF_CHECK(!core.take_settled(t0));
  core.delivered(1, publish_outcome::published);
  core.delivered(2, publish_outcome::published);
  core.delivered(3, publish_outcome::published);
  s = core.take_settled(t0);
  CAF_REQUIRE(s);
  CAF_CHECK_EQUAL(s->id, a.id);
  CAF_CHECK_EQUAL(s->published(), ids({1, 2, 3}));
  CAF_CHECK(core.idle());
  CAF_CHECK_EQUAL(core.claim_limit(), 3u);
}

CAF_TEST(the window also bounds the batches in flight) {
  relay_core core{small()};
  core.start({row(1, "a")}, t0);
  core.start({row(2, "b")}, t0);
  CAF_CHECK_EQUAL(core.batches_in_flight(), 2u);
  CAF_CHECK_EQUAL(core.claim_limit(), 0u);
}

CAF_TEST(a failed row waits for its backoff while the others are marked) {
  relay_core core{small()};
  core.start({row(1, "a"), row(2, "b", 1)}, t0);
  core.delivered(1, publish_outcome::published);
  core.delivered(2, publish_outcome::failed, 7);
  auto s = core.take_settled(t0);
  CAF_REQUIRE(s);
  CAF_CHECK_EQUAL(s->published(), ids({1}));
  CAF_REQUIRE_EQUAL(s->rows.size(), 2u);
  auto& failed = s->rows[1];
  CAF_CHECK_EQUAL(failed.row.id, 2);
  CAF_CHECK_EQUAL(failed.error, 7);
  CAF_CHECK(failed.spent);
  CAF_CHECK(!failed.set_aside);
  // Its second attempt: 100 ms * 2^2.
  CAF_CHECK_EQUAL(core.excluded(t0 + 399ms), ids({2}));
  CAF_CHECK_EQUAL(core.retrying(), 1u);
  CAF_CHECK(core.excluded(t0 + 400ms).empty());
  CAF_CHECK_EQUAL(core.retrying(), 0u);
}

CAF_TEST(the backoff grows per attempt up to its cap) {
  auto cfg = small();
  cfg.max_attempts = 20;
  relay_core core{cfg};
  // attempts before -> wait after this failure
  const std::vector<std::pair<int32_t, std::chrono::milliseconds>> expected{
    {0, 200ms}, {1, 400ms}, {3, 1600ms}, {5, 5000ms}, {12, 5000ms}};
  int64_t id = 1;
  for (auto& [attempts, wait] : expected) {
    core.start({row(id, "k" + std::to_string(id), attempts),
                row(100 + id, "z" + std::to_string(id))},
               t0);
    core.delivered(id, publish_outcome::failed);
    core.delivered(100 + id, publish_outcome::published);
    CAF_REQUIRE(core.take_settled(t0));
    CAF_CHECK_EQUAL(core.excluded(t0 + wait - 1ms), ids({id}));
    CAF_CHECK(core.excluded(t0 + wait).empty());
    ++id;
  }
}

CAF_TEST(a row is set aside when its budget is spent) {
  relay_core core{small()}; // three attempts
  core.start({row(1, "a"), row(2, "b", 2)}, t0);
  core.delivered(1, publish_outcome::published);
  core.delivered(2, publish_outcome::failed);
  auto s = core.take_settled(t0);
  CAF_REQUIRE(s);
  CAF_CHECK(s->rows[1].spent);
  CAF_CHECK(s->rows[1].set_aside);
  CAF_CHECK(core.excluded(t0).empty()); // set aside: nothing waits for it
  // Its key is free again: the next row of "b" goes out.
  auto next = core.start({row(3, "b")}, t0);
  CAF_CHECK_EQUAL(produced(next), ids({3}));
}

CAF_TEST(a row Kafka refuses for good is set aside at its second attempt) {
  relay_core core{small()};
  core.start({row(1, "a"), row(2, "junk")}, t0);
  core.delivered(1, publish_outcome::published);
  core.delivered(2, publish_outcome::refused);
  auto s = core.take_settled(t0);
  CAF_REQUIRE(s);
  CAF_CHECK(!s->outage); // refused for good: the row's own fault
  CAF_CHECK(s->rows[1].spent);
  CAF_CHECK(!s->rows[1].set_aside);
  CAF_CHECK(core.excluded(t0 + 200ms).empty());
  core.start({row(2, "junk", 1)}, t0 + 200ms);
  core.delivered(2, publish_outcome::refused);
  s = core.take_settled(t0 + 200ms);
  CAF_REQUIRE(s);
  CAF_CHECK(s->rows[0].set_aside);
}

CAF_TEST(an outage spends no attempt and holds no row back) {
  relay_core core{small()};
  core.start({row(1, "a", 2), row(2, "b", 2)}, t0);
  core.delivered(1, publish_outcome::failed);
  core.delivered(2, publish_outcome::failed);
  auto s = core.take_settled(t0);
  CAF_REQUIRE(s);
  CAF_CHECK(s->outage);
  CAF_CHECK(s->published().empty());
  for (auto& r : s->rows) {
    CAF_CHECK(!r.spent);
    CAF_CHECK(!r.set_aside);
  }
  CAF_CHECK(core.excluded(t0).empty()); // claimable again right away
  CAF_CHECK_EQUAL(produced(core.start({row(1, "a", 2)}, t0)), ids({1}));
}

CAF_TEST(rows without a report by the deadline count as failed) {
  auto cfg = small();
  cfg.delivery_deadline = 1s;
  relay_core core{cfg};
  core.start({row(1, "a"), row(2, "b")}, t0);
  core.delivered(1, publish_outcome::published);
  CAF_CHECK(!core.take_settled(t0 + 999ms));
  auto s = core.take_settled(t0 + 1s);
  CAF_REQUIRE(s);
  CAF_CHECK_EQUAL(s->published(), ids({1}));
  CAF_CHECK(s->rows[1].timed_out);
  CAF_CHECK(s->rows[1].outcome == publish_outcome::failed);
  CAF_CHECK(s->rows[1].spent);
  CAF_CHECK(!core.in_flight(2));
  core.delivered(2, publish_outcome::published); // late: ignored
  CAF_CHECK(!core.take_settled(t0 + 2s));
  CAF_CHECK(core.idle());
}

CAF_TEST(a later row of a key waits while an earlier one is in flight) {
  relay_core core{small()};
  auto a = core.start({row(1, "k"), row(2, "x"), row(3, "k")}, t0);
  CAF_CHECK_EQUAL(produced(a), ids({1, 2}));
  CAF_CHECK_EQUAL(a.deferred, ids({3}));
  CAF_CHECK_EQUAL(core.excluded(t0), ids({3}));
  // Claimed again while row 1 is in flight (another batch): deferred again.
  auto b = core.start({row(3, "k"), row(4, "y")}, t0);
  CAF_CHECK_EQUAL(produced(b), ids({4}));
  // The same key on another topic is another key.
  auto c = core.start({row(5, "k", 0, "payment.result")}, t0);
  CAF_CHECK(c.produce.empty() == false);
  core.delivered(1, publish_outcome::published);
  core.delivered(2, publish_outcome::published);
  CAF_REQUIRE(core.take_settled(t0));
  CAF_CHECK(core.excluded(t0).empty()); // row 1 is out: row 3 may follow
  CAF_CHECK_EQUAL(produced(core.start({row(3, "k")}, t0)), ids({3}));
}

CAF_TEST(a failed row is not overtaken by a later row of its key) {
  relay_core core{small()};
  core.start({row(1, "k"), row(2, "x")}, t0);
  core.delivered(1, publish_outcome::failed);
  core.delivered(2, publish_outcome::published);
  auto s = core.take_settled(t0);
  CAF_REQUIRE(s);
  CAF_CHECK(s->rows[0].spent);
  // Row 1 waits for its backoff; row 3 of its key waits behind it.
  auto b = core.start({row(3, "k"), row(4, "y")}, t0 + 10ms);
  CAF_CHECK_EQUAL(produced(b), ids({4}));
  CAF_CHECK_EQUAL(core.excluded(t0 + 10ms), ids({1, 3}));
  // After the backoff both are claimable; in id order, row 1 goes first
  // and row 3 still waits for it.
  CAF_CHECK(core.excluded(t0 + 1s).empty());
  auto c = core.start({row(1, "k", 1), row(3, "k")}, t0 + 1s);
  CAF_CHECK_EQUAL(produced(c), ids({1}));
  CAF_CHECK_EQUAL(c.deferred, ids({3}));
}

CAF_TEST(an empty claim settles at once) {
  relay_core core{small()};
  auto b = core.start({}, t0);
  auto s = core.take_settled(t0);
  CAF_REQUIRE(s);
  CAF_CHECK_EQUAL(s->id, b.id);
  CAF_CHECK(s->rows.empty());
  CAF_CHECK(!s->outage);
  CAF_CHECK(core.idle());
}

CAF_TEST(a claim that was not full is followed by the next one a little later) {
  auto cfg = small();
  cfg.claim_spacing = 5ms;
  relay_core core{cfg};
  CAF_CHECK(core.claim_due(t0)); // nothing in flight
  core.start({row(1, "a")}, t0); // one row of three: not full
  CAF_CHECK(!core.claim_due(t0 + 4ms));
  CAF_CHECK(core.claim_due(t0 + 5ms));
  core.start({row(2, "b"), row(3, "c"), row(4, "d")}, t0 + 5ms); // full
  CAF_CHECK(core.claim_due(t0 + 5ms));
  for (int64_t id = 1; id <= 4; ++id)
    core.delivered(id, publish_outcome::published);
  while (core.take_settled(t0 + 6ms))
    ;
  core.start({row(5, "e")}, t0 + 6ms);
  core.delivered(5, publish_outcome::published);
  CAF_REQUIRE(core.take_settled(t0 + 6ms));
  CAF_CHECK(core.claim_due(t0 + 6ms)); // idle again: at once
}
