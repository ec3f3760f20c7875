// PostgreSQL shards behind the store port: each runs its batches through
// the group-commit core (runtime/group_commit.hpp: queue, batching, what a
// failed batch means) in one transaction of its connection, with the
// set-oriented statements and stock locks of a batch; the router sends
// each command to its shard. What each command does is in
// store_commands.cpp, its SQL in sql_catalogue.cpp.
#include "adapters/postgres/pg_store.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <pqxx/pqxx>

#include "actors/commands.hpp"
#include "adapters/postgres/connection.hpp"
#include "adapters/postgres/pg_errors.hpp"
#include "adapters/postgres/sql_catalogue.hpp"
#include "adapters/postgres/store_commands.hpp"
#include "base/errors.hpp"
#include "observability/log.hpp"
#include "runtime/group_commit.hpp"

namespace troupe {

namespace {

// -- shards -----------------------------------------------------------------

/// What a command of kind `Cmd` answers: a set-oriented kind as its
/// statement answers each command, any other as its own `exec`.
template <class Cmd, bool = pg::set_oriented<Cmd>::value>
struct reply_type {
  using type = decltype(pg::run_command(std::declval<pqxx::work&>(),
                                        std::declval<const Cmd&>()));
};

template <class Cmd>
struct reply_type<Cmd, true> {
  using type = typename decltype(pg::run_many(
    std::declval<pqxx::work&>(), nullptr,
    std::declval<const std::vector<Cmd>&>()))::value_type;
};

template <class Cmd>
using reply_of = typename reply_type<Cmd>::type;

/// The commands of one set-oriented kind in a batch (pg::set_oriented),
/// run by one statement.
struct pg_group {
  virtual ~pg_group() = default;
  /// Runs them inside the transaction; returns what to deliver after the
  /// commit.
  virtual std::vector<commit_reply> run(pqxx::work& tx, pg::fence_scope* fence)
    = 0;
};

template <class Cmd>
struct typed_group : pg_group {
  std::vector<Cmd> cmds;
  std::vector<caf::typed_response_promise<reply_of<Cmd>>> promises;

  std::vector<commit_reply> run(pqxx::work& tx,
                                pg::fence_scope* fence) override {
    auto outcomes = pg::run_many(tx, fence, cmds);
    std::vector<commit_reply> replies;
    replies.reserve(outcomes.size());
    for (size_t i = 0; i < outcomes.size(); ++i)
      replies.emplace_back(
        [rp = promises[i], x = outcomes[i]]() mutable { rp.deliver(x); });
    return replies;
  }
};

/// One command waiting for the next transaction of its shard.
struct pg_job : commit_job {
  /// Runs inside the transaction; returns what to deliver after the commit.
  std::function<commit_reply(pqxx::work&)> run;
  std::function<void(const caf::error&)> on_fail;
  std::vector<std::string> stock; ///< the stock rows the command locks
  /// Set-oriented kinds: the kind, a new group of it and how the command
  /// joins one (instead of `run`).
  const void* kind = nullptr;
  std::function<std::unique_ptr<pg_group>()> make_group;
  std::function<void(pg_group&)> join;

  void fail(const caf::error& err) override {
    on_fail(err);
  }
};

template <class Cmd>
const void* kind_of() {
  static const char tag = 0;
  return &tag;
}

template <class Cmd>
std::unique_ptr<commit_job>
make_job(caf::typed_response_promise<reply_of<Cmd>> rp, Cmd cmd) {
  auto job = std::make_unique<pg_job>();
  job->stock = pg::stock_of(cmd);
  job->on_fail = [rp](const caf::error& err) mutable { rp.deliver(err); };
  if constexpr (pg::set_oriented<Cmd>::value) {
    job->kind = kind_of<Cmd>();
    job->make_group = [] { return std::make_unique<typed_group<Cmd>>(); };
    job->join = [rp, cmd = std::move(cmd)](pg_group& g) {
      auto& group = static_cast<typed_group<Cmd>&>(g);
      group.cmds.push_back(cmd);
      group.promises.push_back(rp);
    };
  } else {
    job->run = [rp, cmd = std::move(cmd)](pqxx::work& tx) mutable {
      auto reply = pg::run_command(tx, cmd);
      return commit_reply{[rp, reply = std::move(reply)]() mutable {
        rp.deliver(std::move(reply));
      }};
    };
  }
  return job;
}

/// Runs `jobs` in the transaction; the commands of a set-oriented kind all
/// run where the first of them stands. The commands that lock stock rows
/// run last, after the rows of all of them were locked in SKU order (two
/// batches with overlapping SKUs wait for each other instead of
/// deadlocking): the hot rows stay locked only from there to the commit.
/// Returns what to deliver.
std::vector<commit_reply> run_jobs(pqxx::work& tx, pg::fence_scope* fence,
                                   const std::vector<pg_job*>& jobs) {
  using group_list
    = std::vector<std::pair<const void*, std::unique_ptr<pg_group>>>;
  using step_list = std::vector<std::pair<pg_job*, pg_group*>>; // job or group
  group_list groups;
  step_list steps, locking;
  std::vector<std::string> stock;
  auto add = [&](pg_job& job, step_list& to) {
    if (!job.kind) {
      to.emplace_back(&job, nullptr);
      return;
    }
    auto i = std::find_if(groups.begin(), groups.end(),
                          [&](auto& g) { return g.first == job.kind; });
    if (i == groups.end()) {
      groups.emplace_back(job.kind, job.make_group());
      i = std::prev(groups.end());
      to.emplace_back(nullptr, i->second.get());
    }
    job.join(*i->second);
  };
  for (auto* job : jobs) {
    if (job->stock.empty()) {
      add(*job, steps);
    } else {
      stock.insert(stock.end(), job->stock.begin(), job->stock.end());
      add(*job, locking);
    }
  }
  std::vector<commit_reply> replies;
  replies.reserve(jobs.size());
  auto run = [&](step_list& xs) {
    for (auto& [job, group] : xs) {
      if (job) {
        replies.emplace_back(job->run(tx));
      } else {
        auto rs = group->run(tx, fence);
        for (auto& r : rs)
          replies.emplace_back(std::move(r));
      }
    }
  };
  run(steps);
  if (!locking.empty()) {
    pg::lock_stock(tx, std::move(stock));
    run(locking);
  }
  return replies;
}

/// A shard's connection as the group-commit core's backend: one batch is
/// one transaction, libpqxx's exceptions become errors that say what the
/// failure means for the batch.
class pg_backend : public commit_backend {
public:
  pg_backend(const pg_settings& cfg, int32_t index)
    : conn_(cfg.url, "shard " + std::to_string(index), pg::prepare_statements),
      fence_(cfg.fence),
      index_(index) {
    conn_.get();
  }

  caf::error connect() override {
    if (conn_.get() == nullptr)
      return make_error(troupe_errc::storage_unavailable,
                        "PostgreSQL is unreachable");
    return caf::none;
  }

  caf::expected<std::vector<commit_reply>>
  run(const std::vector<commit_job*>& jobs) override {
    // Every job of this core is a pg_job: the shard adds no other.
    std::vector<pg_job*> xs;
    xs.reserve(jobs.size());
    for (auto* job : jobs)
      xs.push_back(static_cast<pg_job*>(job));
    auto& conn = *conn_.get();
    try {
      pqxx::work tx{conn};
      pg::fence_scope scope{fence_.get(), {}};
      auto replies = run_jobs(tx, &scope, xs);
      tx.commit();
      return replies;
    } catch (const std::exception& e) {
      auto failure = classify_pg(e);
      if (failure.connection_lost || !conn.is_open())
        conn_.reset();
      return std::move(failure.error);
    }
  }

  batch_failure classify(const caf::error& err) override {
    auto x = classify_by_tier(err);
    // A closed connection took the transaction with it: no command is to
    // blame, and none can run until it is back.
    if (x == batch_failure::spoiled && !conn_.is_open())
      return batch_failure::outage;
    return x;
  }

  void rerunning(batch_failure why, size_t n, const caf::error& err) override {
    if (why == batch_failure::unknown)
      // The batch may have committed. Every command is idempotent, so each
      // runs again on a fresh connection and answers what is now true (an
      // order created by the lost commit is reported as created).
      log::warn("postgres",
                "shard {}: commit of {} command(s) unknown ({}); "
                "re-running them one by one",
                index_, n, describe(err));
    else
      log::warn("postgres",
                "shard {}: batch of {} failed ({}), retrying one by one",
                index_, n, describe(err));
  }

private:
  pg_connection conn_;
  std::shared_ptr<partition_fence> fence_;
  int32_t index_;
};

struct shard_state {
  static inline const char* name = "pg_shard";
  std::unique_ptr<group_commit> commits;
};

/// A shard answers the store's commands; `flush_atom` runs its next batch.
using shard_actor = node_store_actor::extend<caf::reacts_to<flush_atom>>;

using shard_ptr = shard_actor::stateful_pointer<shard_state>;

template <class Cmd>
caf::typed_response_promise<reply_of<Cmd>> enqueue(shard_ptr self, Cmd cmd) {
  auto rp = self->make_response_promise<reply_of<Cmd>>();
  self->state.commits->add(make_job(rp, std::move(cmd)));
  return rp;
}

shard_actor::behavior_type pg_shard(shard_ptr self, pg_settings cfg,
                                    int32_t index) {
  auto max_batch = static_cast<size_t>(std::max(1, cfg.max_batch));
  self->state.commits = std::make_unique<group_commit>(
    std::make_unique<pg_backend>(cfg, index), max_batch,
    // Everything already in the mailbox joins the batch: the flush message
    // queues up behind it.
    [self] { self->send(self, flush_atom::value); });
  return {
    [=](flush_atom) { self->state.commits->flush(); },
    [=](create_order& x) { return enqueue(self, std::move(x)); },
    [=](cancel_order& x) { return enqueue(self, std::move(x)); },
    [=](payment_cmd& x) { return enqueue(self, std::move(x)); },
    [=](refund_cmd& x) { return enqueue(self, std::move(x)); },
    [=](reserve_cmd& x) { return enqueue(self, std::move(x)); },
    [=](release_cmd& x) { return enqueue(self, std::move(x)); },
    [=](notify_cmd& x) { return enqueue(self, std::move(x)); },
    [=](analytics_cmd& x) { return enqueue(self, std::move(x)); },
    [=](saga_write& x) { return enqueue(self, std::move(x)); },
    [=](load_saga& x) { return enqueue(self, std::move(x)); },
    [=](list_open_sagas& x) { return enqueue(self, std::move(x)); },
    [=](dead_letter& x) { return enqueue(self, std::move(x)); },
    [=](retry_note& x) { return enqueue(self, std::move(x)); },
  };
}

// -- router -----------------------------------------------------------------

struct router_state {
  static inline const char* name = "pg_store";
  std::vector<shard_actor> shards;
  size_t next = 0;
};

node_store_actor::behavior_type
pg_router(node_store_actor::stateful_pointer<router_state> self,
          std::vector<shard_actor> shards) {
  self->state.shards = std::move(shards);
  for (auto& shard : self->state.shards)
    self->link_to(shard);
  auto by_key = [=](const std::string& key) -> const shard_actor& {
    auto& s = self->state.shards;
    return s[std::hash<std::string>{}(key) % s.size()];
  };
  auto any = [=]() -> const shard_actor& {
    auto& st = self->state;
    return st.shards[st.next++ % st.shards.size()];
  };
  return {
    [=](create_order& x) {
      auto& key = x.idempotency_key.empty() ? x.order_id : x.idempotency_key;
      return self->delegate(by_key(key), std::move(x));
    },
    [=](cancel_order& x) {
      return self->delegate(by_key(x.order_id), std::move(x));
    },
    [=](payment_cmd& x) {
      return self->delegate(by_key(x.order_id), std::move(x));
    },
    [=](refund_cmd& x) {
      return self->delegate(by_key(x.what.order_id), std::move(x));
    },
    // Stock rows and the analytics rows are hot (every order of a SKU
    // touches them) and multi-line orders touch several: each kind goes to
    // one shard, whose batches then update the rows one after the other,
    // instead of shards holding them against each other until their
    // commits (and every command queued behind a waiting batch with them).
    [=](reserve_cmd& x) {
      return self->delegate(by_key("stock"), std::move(x));
    },
    [=](release_cmd& x) {
      return self->delegate(by_key("stock"), std::move(x));
    },
    [=](notify_cmd& x) {
      return self->delegate(by_key(x.what.order_id), std::move(x));
    },
    [=](analytics_cmd& x) {
      return self->delegate(by_key("analytics"), std::move(x));
    },
    [=](saga_write& x) {
      return self->delegate(by_key(x.order_id), std::move(x));
    },
    [=](load_saga& x) {
      return self->delegate(by_key(x.order_id), std::move(x));
    },
    [=](list_open_sagas& x) { return self->delegate(any(), std::move(x)); },
    [=](dead_letter& x) { return self->delegate(by_key(x.key), std::move(x)); },
    [=](retry_note& x) { return self->delegate(by_key(x.key), std::move(x)); },
  };
}

} // namespace

node_store_actor spawn_pg_store(caf::actor_system& sys,
                                const pg_settings& cfg) {
  std::vector<shard_actor> shards;
  for (int32_t i = 0; i < std::max(1, cfg.pool_size); ++i)
    shards.push_back(sys.spawn<caf::detached>(pg_shard, cfg, i));
  return sys.spawn(pg_router, std::move(shards));
}

} // namespace troupe
