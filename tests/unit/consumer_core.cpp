// The consumer's logic without a Kafka client: decoding into jobs, commits
// of the contiguous done prefix only, hand-offs left uncommitted,
// revocations that wait for their work up to a deadline, backpressure.
#define CAF_SUITE consumer_core
#include "runtime/consumer_core.hpp"

#include <caf/test/unit_test.hpp>

#include "base/errors.hpp"

using namespace troupe;
using namespace std::chrono_literals;

namespace {

/// Decodes "ok" payloads as an int message; anything else is malformed.
caf::expected<caf::message> decode(const std::string&, const std::string&,
                                   const std::string& payload,
                                   std::string& correlation_id) {
  if (payload != "ok")
    return make_error(troupe_errc::malformed_event, "not ok");
  correlation_id = "corr";
  return caf::make_message(7);
}

fetched_message msg(int32_t partition, int64_t offset,
                    std::string payload = "ok") {
  return fetched_message{"t", partition, offset, "key", std::move(payload)};
}

using commits = std::vector<std::pair<topic_partition, int64_t>>;

commits at(int32_t partition, int64_t next) {
  return commits{{topic_partition{"t", partition}, next}};
}

} // namespace

CAF_TEST(jobs carry the decoded event or why it is malformed) {
  consumer_core core{{"t"}, decode, 10};
  auto good = core.accept(msg(0, 5));
  CAF_REQUIRE(good);
  CAF_CHECK(good->malformed.empty());
  CAF_CHECK_EQUAL(good->correlation_id, "corr");
  CAF_CHECK(good->event.match_elements<int>());
  auto bad = core.accept(msg(0, 6, "\xff"));
  CAF_REQUIRE(bad);
  CAF_CHECK(!bad->malformed.empty());
  CAF_CHECK(bad->event.empty());
  CAF_CHECK_NOT_EQUAL(good->id, bad->id);
  CAF_CHECK_EQUAL(core.in_flight(), 2u);
}

CAF_TEST(only the contiguous done prefix is committed) {
  consumer_core core{{"t"}, decode, 10};
  auto a = core.accept(msg(0, 10));
  auto b = core.accept(msg(0, 11));
  auto c = core.accept(msg(0, 12));
  core.complete(c->id, delivery_outcome::handled);
  CAF_CHECK(core.take_commits().empty()); // 10 and 11 still running
  core.complete(a->id, delivery_outcome::dead_lettered);
  CAF_CHECK_EQUAL(core.take_commits(), at(0, 11));
  core.complete(b->id, delivery_outcome::handled);
  CAF_CHECK_EQUAL(core.take_commits(), at(0, 13));
  CAF_CHECK(core.take_commits().empty()); // nothing moved since
  CAF_CHECK_EQUAL(core.committable({"t", 0}), 13);
}

CAF_TEST(a handed off message is never committed) {
  consumer_core core{{"t"}, decode, 10};
  auto a = core.accept(msg(1, 0));
  core.complete(a->id, delivery_outcome::handed_off);
  CAF_CHECK(core.take_commits().empty());
  CAF_CHECK_EQUAL(core.in_flight(), 1u); // its offset still holds the prefix
}

CAF_TEST(a revocation waits for its partitions work until the deadline) {
  consumer_core core{{"t"}, decode, 10};
  auto t0 = consumer_core::clock::time_point{} + 1h;
  auto a = core.accept(msg(0, 0));
  auto other = core.accept(msg(1, 0));
  core.revoke({{"t", 0}}, t0 + 5s);
  CAF_CHECK(core.revoking({"t", 0}));
  CAF_CHECK(!core.revoking({"t", 1}));
  // Fetched before the pause took effect: not accepted.
  CAF_CHECK(!core.accept(msg(0, 1)));
  bool late = true;
  CAF_CHECK(!core.revoke_due(t0 + 1s, late)); // partition 0 is busy
  core.complete(other->id, delivery_outcome::handled);
  CAF_CHECK(!core.revoke_due(t0 + 1s, late)); // still busy
  core.complete(a->id, delivery_outcome::handled);
  auto due = core.revoke_due(t0 + 1s, late);
  CAF_REQUIRE(due);
  CAF_CHECK(!late);
  CAF_CHECK_EQUAL(due->size(), 1u);
  CAF_CHECK(!core.revoking({"t", 0}));
}

CAF_TEST(a late revocation hands off with work in flight and forgets it) {
  consumer_core core{{"t"}, decode, 10};
  auto t0 = consumer_core::clock::time_point{} + 1h;
  core.accept(msg(0, 0));
  core.revoke({{"t", 0}}, t0 + 5s);
  bool late = false;
  auto due = core.revoke_due(t0 + 5s, late);
  CAF_REQUIRE(due);
  CAF_CHECK(late);
  core.forget(*due);
  CAF_CHECK_EQUAL(core.in_flight(), 0u);
  CAF_CHECK(core.take_commits().empty());
}

CAF_TEST(backpressure pauses at the bound and resumes at half of it) {
  consumer_core core{{"t"}, decode, 4};
  std::vector<uint64_t> ids;
  for (int64_t i = 0; i < 4; ++i)
    ids.push_back(core.accept(msg(0, i))->id);
  CAF_CHECK(core.pause_wanted(false, false));
  core.complete(ids[0], delivery_outcome::handled);
  CAF_CHECK(core.pause_wanted(false, true));   // 3 in flight: stay paused
  CAF_CHECK(!core.pause_wanted(false, false)); // ... or stay fetching
  core.complete(ids[1], delivery_outcome::handled);
  CAF_CHECK(!core.pause_wanted(false, true)); // 2: resume
  CAF_CHECK(core.pause_wanted(true, false));  // the store is down
}

CAF_TEST(ownership follows the first subscribed topic) {
  consumer_core core{{"a", "b"}, decode, 4};
  auto parts = core.first_topic_partitions({{"a", 0}, {"b", 1}, {"a", 2}});
  CAF_CHECK_EQUAL(parts, (std::vector<int32_t>{0, 2}));
}

CAF_TEST(the trace context of a message reaches its job and its event) {
  auto tp
    = std::string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"};
  auto decode_result = [](const std::string&, const std::string& key,
                          const std::string&,
                          std::string&) -> caf::expected<caf::message> {
    payment_result x;
    x.order_id = key;
    return caf::make_message(std::move(x));
  };
  consumer_core core{{"t"}, decode_result, 10};
  auto m = msg(0, 1);
  m.traceparent = tp;
  auto job = core.accept(std::move(m));
  CAF_REQUIRE(job);
  // No spans are exported here: the context is passed on unchanged.
  CAF_CHECK_EQUAL(job->traceparent, tp);
  CAF_CHECK_EQUAL(job->parent_span, "");
  CAF_REQUIRE(job->event.match_elements<payment_result>());
  CAF_CHECK_EQUAL(job->event.get_as<payment_result>(0).traceparent, tp);
  // Without a header, or with a malformed one, there is no trace.
  auto none = core.accept(msg(0, 2));
  CAF_REQUIRE(none);
  CAF_CHECK_EQUAL(none->traceparent, "");
  CAF_CHECK_EQUAL(none->event.get_as<payment_result>(0).traceparent, "");
  auto junk = msg(0, 3);
  junk.traceparent = "junk";
  auto bad = core.accept(std::move(junk));
  CAF_REQUIRE(bad);
  CAF_CHECK_EQUAL(bad->traceparent, "");
}
