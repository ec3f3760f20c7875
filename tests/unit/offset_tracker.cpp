// Offset tracking: only the contiguous prefix of completed messages of a
// partition may be committed.
#define CAF_SUITE offset_tracker
#include "runtime/offset_tracker.hpp"

#include <caf/test/unit_test.hpp>

using namespace troupe;

using commits = std::vector<std::pair<int32_t, int64_t>>;

CAF_TEST(only the contiguous completed prefix is committed) {
  offset_tracker t;
  for (int64_t off = 0; off <= 4; ++off)
    t.start(0, off);
  CAF_CHECK_EQUAL(t.in_flight(), 5u);
  t.complete(0, 1);
  t.complete(0, 2);
  t.complete(0, 4);
  CAF_CHECK(t.take_commits().empty());
  CAF_CHECK(!t.committable(0));
  t.complete(0, 0);
  CAF_CHECK_EQUAL(t.take_commits(), (commits{{0, 3}}));
  t.complete(0, 3);
  CAF_CHECK_EQUAL(t.take_commits(), (commits{{0, 5}}));
  CAF_CHECK_EQUAL(t.in_flight(), 0u);
}

CAF_TEST(each position is returned once) {
  offset_tracker t;
  t.start(0, 10);
  t.complete(0, 10);
  CAF_CHECK_EQUAL(t.take_commits(), (commits{{0, 11}}));
  CAF_CHECK(t.take_commits().empty());
}

CAF_TEST(partitions are independent) {
  offset_tracker t;
  t.start(0, 0);
  t.start(1, 7);
  t.start(1, 8);
  t.complete(1, 7);
  CAF_CHECK_EQUAL(t.take_commits(), (commits{{1, 8}}));
  t.complete(1, 8);
  t.complete(0, 0);
  CAF_CHECK_EQUAL(t.take_commits(), (commits{{0, 1}, {1, 9}}));
}

CAF_TEST(a revoked partition is forgotten) {
  offset_tracker t;
  t.start(3, 0);
  t.start(3, 1);
  t.complete(3, 1);
  t.forget(3);
  CAF_CHECK_EQUAL(t.in_flight(), 0u);
  t.complete(3, 0); // a late completion for a partition no longer owned
  CAF_CHECK(t.take_commits().empty());
}

CAF_TEST(duplicate completions are ignored) {
  offset_tracker t;
  t.start(0, 0);
  t.start(0, 1);
  t.complete(0, 1);
  t.complete(0, 1);
  CAF_CHECK_EQUAL(t.in_flight(), 1u);
  CAF_CHECK(t.take_commits().empty());
}
