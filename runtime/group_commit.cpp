// The batching and failure policy of group commit (group_commit.hpp).
#include "runtime/group_commit.hpp"

#include <algorithm>
#include <utility>

#include "base/errors.hpp"

namespace troupe {

const char* to_string(batch_failure x) {
  switch (x) {
    case batch_failure::unknown:
      return "unknown";
    case batch_failure::spoiled:
      return "spoiled";
    case batch_failure::outage:
      return "outage";
  }
  return "?";
}

batch_failure classify_by_tier(const caf::error& err) {
  if (has_code(err, troupe_errc::commit_unknown))
    return batch_failure::unknown;
  if (tier_of(err) == error_tier::outage)
    return batch_failure::outage;
  return batch_failure::spoiled;
}

group_commit::group_commit(std::unique_ptr<commit_backend> backend,
                           size_t max_batch,
                           std::function<void()> schedule_flush)
  : backend_(std::move(backend)),
    max_batch_(std::max<size_t>(1, max_batch)),
    schedule_flush_(std::move(schedule_flush)) {
  // nop
}

void group_commit::add(std::unique_ptr<commit_job> job) {
  queue_.push_back(std::move(job));
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    schedule_flush_();
  }
}

void group_commit::flush() {
  flush_scheduled_ = false;
  // Jobs added while this flush runs wait for the next one (add schedules
  // it), so a flush always ends.
  batch pending;
  pending.swap(queue_);
  batch jobs;
  for (size_t i = 0; i < pending.size(); i += max_batch_) {
    auto end = std::min(pending.size(), i + max_batch_);
    jobs.clear();
    for (size_t k = i; k < end; ++k)
      jobs.push_back(std::move(pending[k]));
    commit(jobs);
  }
}

void group_commit::commit(batch& jobs) {
  if (auto err = backend_->connect()) {
    for (auto& job : jobs)
      job->fail(err);
    return;
  }
  std::vector<commit_job*> xs;
  xs.reserve(jobs.size());
  for (auto& job : jobs)
    xs.push_back(job.get());
  auto replies = backend_->run(xs);
  if (replies) {
    // Only now, after the commit.
    for (auto& f : *replies)
      if (f)
        f();
    return;
  }
  auto err = std::move(replies.error());
  auto failure = backend_->classify(err);
  // An unknown commit runs every job again even when the batch was one job:
  // the re-run answers what is now true. Anything else of a single job, or
  // an outage, is its answer.
  if (failure == batch_failure::outage
      || (failure == batch_failure::spoiled && jobs.size() == 1)) {
    for (auto& job : jobs)
      job->fail(err);
    return;
  }
  backend_->rerunning(failure, jobs.size(), err);
  for (auto& job : jobs)
    run_alone(*job);
}

void group_commit::run_alone(commit_job& job) {
  if (auto err = backend_->connect()) {
    job.fail(err);
    return;
  }
  auto replies = backend_->run({&job});
  if (!replies) {
    job.fail(replies.error());
    return;
  }
  for (auto& f : *replies)
    if (f)
      f();
}

} // namespace troupe
