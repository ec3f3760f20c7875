// Group commit without a database: batching behind one scheduled flush,
// batches of at most max_batch, replies only after a commit, and what a
// failed batch means (unknown: every job again alone; spoiled: each alone;
// outage, closed connection or a lone job: all fail), against a scripted
// backend.
#define CAF_SUITE group_commit_core
#include "runtime/group_commit.hpp"

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/test/unit_test.hpp>

#include "base/errors.hpp"

using namespace troupe;

namespace {

using strings = std::vector<std::string>;

/// What happened, in order: "run 1 2", "reply 1", "fail 2 <code>".
struct journal {
  strings lines;
};

struct fake_job : commit_job {
  fake_job(int id, journal& log) : id(id), log(log) {
    // nop
  }
  void fail(const caf::error& err) override {
    log.lines.push_back("fail " + std::to_string(id) + " "
                        + to_string(static_cast<troupe_errc>(err.code())));
  }
  int id;
  journal& log;
};

/// Answers each run with the next scripted error (none: committed) and
/// each connect with the next scripted connect error.
struct fake_backend : commit_backend {
  explicit fake_backend(journal& log) : log(log) {
    // nop
  }

  caf::error connect() override {
    if (connects.empty())
      return caf::none;
    auto err = std::move(connects.front());
    connects.pop_front();
    return err;
  }

  caf::expected<std::vector<commit_reply>>
  run(const std::vector<commit_job*>& jobs) override {
    std::string line = "run";
    std::vector<commit_reply> replies;
    for (auto* job : jobs) {
      auto id = static_cast<fake_job*>(job)->id;
      line += " " + std::to_string(id);
      replies.emplace_back(
        [this, id] { log.lines.push_back("reply " + std::to_string(id)); });
    }
    log.lines.push_back(line);
    if (results.empty())
      return replies;
    auto err = std::move(results.front());
    results.pop_front();
    if (err)
      return err;
    return replies;
  }

  void rerunning(batch_failure why, size_t n, const caf::error&) override {
    log.lines.push_back(std::string{"rerun "} + to_string(why) + " "
                        + std::to_string(n));
  }

  journal& log;
  std::deque<caf::error> results;
  std::deque<caf::error> connects;
};

struct fixture {
  journal log;
  fake_backend* backend = nullptr;
  int flushes_scheduled = 0;
  std::unique_ptr<group_commit> core;

  explicit fixture(size_t max_batch = 8) {
    auto b = std::make_unique<fake_backend>(log);
    backend = b.get();
    core = std::make_unique<group_commit>(std::move(b), max_batch,
                                          [this] { ++flushes_scheduled; });
  }

  void add(int id) {
    core->add(std::make_unique<fake_job>(id, log));
  }

  void add(std::initializer_list<int> ids) {
    for (auto id : ids)
      add(id);
  }

  void fails_with(troupe_errc x) {
    backend->results.push_back(make_error(x, "scripted"));
  }

  void commits() {
    backend->results.push_back(caf::none);
  }
};

caf::error unknown() {
  return make_error(troupe_errc::commit_unknown, "scripted");
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(group_commit_tests, fixture)

CAF_TEST(jobs queued before the flush commit together and reply after it) {
  add({1, 2, 3});
  CAF_CHECK_EQUAL(flushes_scheduled, 1); // one flush for the whole batch
  CAF_CHECK_EQUAL(core->queued(), 3u);
  CAF_CHECK(log.lines.empty()); // nothing runs before the flush
  core->flush();
  CAF_CHECK_EQUAL(log.lines,
                  (strings{"run 1 2 3", "reply 1", "reply 2", "reply 3"}));
  CAF_CHECK_EQUAL(core->queued(), 0u);
  add(4); // the next job schedules the next flush
  CAF_CHECK_EQUAL(flushes_scheduled, 2);
}

CAF_TEST(a long queue runs in batches of at most max_batch) {
  fixture small{2};
  small.add({1, 2, 3, 4, 5});
  small.core->flush();
  CAF_CHECK_EQUAL(small.log.lines,
                  (strings{"run 1 2", "reply 1", "reply 2", "run 3 4",
                           "reply 3", "reply 4", "run 5", "reply 5"}));
}

CAF_TEST(an unknown commit runs every job again alone) {
  backend->results.push_back(unknown());
  add({1, 2, 3});
  core->flush();
  // The batch's own replies are dropped: each re-run answers.
  CAF_CHECK_EQUAL(log.lines,
                  (strings{"run 1 2 3", "rerun unknown 3", "run 1", "reply 1",
                           "run 2", "reply 2", "run 3", "reply 3"}));
}

CAF_TEST(an unknown commit of a single job runs it again too) {
  backend->results.push_back(unknown());
  add(1);
  core->flush();
  CAF_CHECK_EQUAL(log.lines,
                  (strings{"run 1", "rerun unknown 1", "run 1", "reply 1"}));
}

CAF_TEST(a re - run that is unknown too fails only its job) {
  backend->results.push_back(unknown());
  commits();
  backend->results.push_back(unknown());
  add({1, 2, 3});
  core->flush();
  CAF_CHECK_EQUAL(
    log.lines, (strings{"run 1 2 3", "rerun unknown 3", "run 1", "reply 1",
                        "run 2", "fail 2 commit_unknown", "run 3", "reply 3"}));
}

CAF_TEST(a spoiled batch is isolated by running each job alone) {
  fails_with(troupe_errc::storage_rejected); // the batch
  commits();                                 // 1 alone
  fails_with(troupe_errc::storage_rejected); // 2 alone: the bad one
  add({1, 2, 3});
  core->flush();
  CAF_CHECK_EQUAL(log.lines,
                  (strings{"run 1 2 3", "rerun spoiled 3", "run 1", "reply 1",
                           "run 2", "fail 2 storage_rejected", "run 3",
                           "reply 3"}));
}

CAF_TEST(a single job that fails the batch is answered with its error) {
  fails_with(troupe_errc::storage_rejected);
  add(1);
  core->flush();
  CAF_CHECK_EQUAL(log.lines, (strings{"run 1", "fail 1 storage_rejected"}));
}

CAF_TEST(an outage fails every job of the batch without a re - run) {
  fails_with(troupe_errc::storage_unavailable);
  add({1, 2});
  add(3);
  core->flush();
  CAF_CHECK_EQUAL(log.lines, (strings{"run 1 2 3", "fail 1 storage_unavailable",
                                      "fail 2 storage_unavailable",
                                      "fail 3 storage_unavailable"}));
}

CAF_TEST(the backend decides what an error means) {
  // A backend whose connection closed with the error: an outage, although
  // the error alone would spoil the batch.
  struct closed : fake_backend {
    using fake_backend::fake_backend;
    batch_failure classify(const caf::error&) override {
      return batch_failure::outage;
    }
  };
  journal j;
  auto b = std::make_unique<closed>(j);
  b->results.push_back(make_error(troupe_errc::storage_rejected, "closed"));
  group_commit c{std::move(b), 8, [] {}};
  c.add(std::make_unique<fake_job>(1, j));
  c.add(std::make_unique<fake_job>(2, j));
  c.flush();
  CAF_CHECK_EQUAL(j.lines, (strings{"run 1 2", "fail 1 storage_rejected",
                                    "fail 2 storage_rejected"}));
}

CAF_TEST(without a connection every job fails and nothing runs) {
  backend->connects.push_back(
    make_error(troupe_errc::storage_unavailable, "down"));
  add({1, 2});
  core->flush();
  CAF_CHECK_EQUAL(log.lines, (strings{"fail 1 storage_unavailable",
                                      "fail 2 storage_unavailable"}));
  // Back: the next batch runs.
  add(3);
  core->flush();
  CAF_CHECK_EQUAL(log.lines.back(), "reply 3");
}

CAF_TEST(a re - run without a connection fails its job) {
  backend->results.push_back(unknown());
  backend->connects.push_back(caf::none); // the batch
  backend->connects.push_back(caf::none); // 1 alone
  backend->connects.push_back(
    make_error(troupe_errc::storage_unavailable, "down")); // 2 alone
  add({1, 2, 3});
  core->flush();
  CAF_CHECK_EQUAL(log.lines,
                  (strings{"run 1 2 3", "rerun unknown 3", "run 1", "reply 1",
                           "fail 2 storage_unavailable", "run 3", "reply 3"}));
}

CAF_TEST(a job added while a flush runs waits for the next flush) {
  struct adding : fake_backend {
    using fake_backend::fake_backend;
    std::function<void()> during;
    caf::expected<std::vector<commit_reply>>
    run(const std::vector<commit_job*>& jobs) override {
      if (during) {
        auto f = std::move(during);
        during = nullptr;
        f();
      }
      return fake_backend::run(jobs);
    }
  };
  journal j;
  int scheduled = 0;
  auto b = std::make_unique<adding>(j);
  auto* raw = b.get();
  group_commit c{std::move(b), 8, [&] { ++scheduled; }};
  raw->during = [&] { c.add(std::make_unique<fake_job>(2, j)); };
  c.add(std::make_unique<fake_job>(1, j));
  c.flush();
  CAF_CHECK_EQUAL(j.lines, (strings{"run 1", "reply 1"}));
  CAF_CHECK_EQUAL(scheduled, 2);
  c.flush();
  CAF_CHECK_EQUAL(j.lines, (strings{"run 1", "reply 1", "run 2", "reply 2"}));
}

CAF_TEST_FIXTURE_SCOPE_END()
