// troupe-sim: the whole saga under deterministic simulation (world.hpp).
//
//   troupe-sim --seeds=1..1000          runs a range; exits 1 if any seed
//                                       breaks an invariant
//   troupe-sim --seed=N --trace         replays one run, printing its trace
//   troupe-sim --list-mutants           the deliberate defects, one a line
//   troupe-sim --mutant=NAME --seeds=.. the same with one defect switched on
//   troupe-sim --seeds=.. --jobs=N      runs the range in N worker processes
//                                       (default: one per core); the seeds
//                                       are reported in order, as by one
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "apps/troupe-sim/world.hpp"
#include "cli/cli.hpp"
#include "observability/log.hpp"

using namespace troupe;

namespace {

bool parse_range(const std::string& text, uint64_t& lo, uint64_t& hi) {
  auto dots = text.find("..");
  try {
    if (dots == std::string::npos) {
      lo = hi = std::stoull(text);
      return true;
    }
    lo = std::stoull(text.substr(0, dots));
    hi = std::stoull(text.substr(dots + 2));
    return lo <= hi;
  } catch (const std::exception&) {
    return false;
  }
}

/// The trace lines that name `order` (its short form), or every line.
void print_trace(const std::vector<std::string>& trace,
                 const std::string& order) {
  auto tag = order.size() > 4 ? order.substr(order.size() - 4) : order;
  for (auto& line : trace)
    if (tag.empty() || line.find(tag) != std::string::npos
        || line.find("crash") != std::string::npos
        || line.find("started") != std::string::npos
        || line.find("partitions") != std::string::npos
        || line.find("store") != std::string::npos
        || line.find("clock") != std::string::npos)
      std::cout << "  " << line << "\n";
}

std::string order_of(const std::string& violation) {
  auto at = violation.find("(order ");
  if (at == std::string::npos)
    return "";
  auto end = violation.find(')', at);
  return violation.substr(at + 7, end - at - 7);
}

// -- worker processes --------------------------------------------------------
//
// With --jobs=N the range runs in N processes forked before any actor system
// exists. Each takes the next seed from a counter they share, runs it alone
// (a seed's run depends on nothing but the seed) and sends its result down
// a pipe; the parent reports the seeds in order, exactly as one process
// would, and sums the figures in that order.

/// Writes all of `data`; false when the reader is gone.
bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

template <class T>
void put(std::string& out, const T& x) {
  out.append(reinterpret_cast<const char*>(&x), sizeof(T));
}

/// Reads the records of one worker as they arrive: 'C' seed (claimed,
/// about to run), 'R' seed and its result.
struct record_reader {
  std::string buf;
  size_t at = 0;

  template <class T>
  bool get(T& x) {
    if (buf.size() - at < sizeof(T))
      return false;
    std::memcpy(&x, buf.data() + at, sizeof(T));
    at += sizeof(T);
    return true;
  }

  /// The next complete record, if any: its kind, seed and (for 'R') result.
  bool next(char& kind, uint64_t& seed, simulation::result& r) {
    auto start = at;
    auto fail = [&] {
      at = start;
      return false;
    };
    if (!get(kind) || !get(seed))
      return fail();
    if (kind == 'R') {
      uint32_t n = 0;
      if (!get(r.simulated_seconds) || !get(r.orders) || !get(r.steps)
          || !get(r.liveness_bound_ms) || !get(n))
        return fail();
      r.violations.clear();
      for (uint32_t i = 0; i < n; ++i) {
        uint32_t len = 0;
        if (!get(len) || buf.size() - at < len)
          return fail();
        r.violations.emplace_back(buf, at, len);
        at += len;
      }
    }
    if (at > (1u << 16)) {
      buf.erase(0, at);
      at = 0;
    }
    return true;
  }
};

[[noreturn]] void worker(int fd, std::atomic<uint64_t>* counter, uint64_t lo,
                         uint64_t hi, simulation::options opts) {
  log::init("sim", "off", "text");
  for (;;) {
    auto k = counter->fetch_add(1);
    if (k > hi - lo)
      break;
    auto s = lo + k;
    std::string out;
    put(out, 'C');
    put(out, s);
    if (!write_all(fd, out))
      break;
    opts.seed = s;
    auto r = simulation::run(opts);
    out.clear();
    put(out, 'R');
    put(out, s);
    put(out, r.simulated_seconds);
    put(out, r.orders);
    put(out, r.steps);
    put(out, r.liveness_bound_ms);
    put(out, static_cast<uint32_t>(r.violations.size()));
    for (auto& v : r.violations) {
      put(out, static_cast<uint32_t>(v.size()));
      out += v;
    }
    if (!write_all(fd, out))
      break;
  }
  ::_exit(0);
}

struct worker_proc {
  pid_t pid = -1;
  int fd = -1;
  bool gone = false; ///< its pipe is closed: it ended (or died)
  int status = 0;    ///< from waitpid, once gone
  record_reader in;
};

/// Runs seeds `lo`..`hi` in `jobs` worker processes and hands each result to
/// `take` in seed order; stops when `take` returns false. A worker that dies
/// amid a seed ends this process as that seed would have: by the same signal
/// or exit code, after the seeds before it were reported.
template <class Take>
void run_parallel(uint64_t lo, uint64_t hi, unsigned jobs,
                  const simulation::options& opts, Take take) {
  auto* counter = static_cast<std::atomic<uint64_t>*>(
    ::mmap(nullptr, sizeof(std::atomic<uint64_t>), PROT_READ | PROT_WRITE,
           MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (counter == MAP_FAILED) {
    std::perror("troupe-sim: mmap");
    std::exit(3);
  }
  new (counter) std::atomic<uint64_t>{0};
  std::cout.flush();
  std::fflush(nullptr);
  std::vector<worker_proc> ws(jobs);
  for (auto& w : ws) {
    int fds[2];
    if (::pipe(fds) != 0) {
      std::perror("troupe-sim: pipe");
      std::exit(3);
    }
    w.pid = ::fork();
    if (w.pid < 0) {
      std::perror("troupe-sim: fork");
      std::exit(3);
    }
    if (w.pid == 0) {
      ::close(fds[0]);
      for (auto& other : ws)
        if (other.fd >= 0)
          ::close(other.fd);
      worker(fds[1], counter, lo, hi, opts);
    }
    ::close(fds[1]);
    w.fd = fds[0];
  }
  log::init("sim", "off", "text");
  auto stop_workers = [&] {
    counter->store(hi - lo + 1);
    for (auto& w : ws) {
      if (!w.gone)
        ::kill(w.pid, SIGKILL);
      ::close(w.fd);
      if (!w.gone)
        ::waitpid(w.pid, &w.status, 0);
    }
  };
  std::map<uint64_t, simulation::result> done;
  std::map<uint64_t, size_t> claimed; ///< seed -> worker, until its result
  auto next = lo;
  std::vector<char> chunk(1 << 16);
  for (;;) {
    for (auto i = done.find(next); i != done.end(); i = done.find(next)) {
      auto r = std::move(i->second);
      done.erase(i);
      if (!take(next, r) || next == hi) {
        stop_workers();
        return;
      }
      ++next;
    }
    if (auto c = claimed.find(next); c != claimed.end() && ws[c->second].gone) {
      // The worker died running this seed: so does the run.
      auto st = ws[c->second].status;
      stop_workers();
      std::cout.flush();
      std::fflush(nullptr);
      std::fprintf(stderr,
                   "troupe-sim: seed %llu ended the simulation (%s %d); "
                   "replay it with --seed=%llu\n",
                   static_cast<unsigned long long>(next),
                   WIFSIGNALED(st) ? "signal" : "exit code",
                   WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
                   static_cast<unsigned long long>(next));
      if (WIFSIGNALED(st)) {
        std::signal(WTERMSIG(st), SIG_DFL);
        std::raise(WTERMSIG(st));
      }
      std::_Exit(WIFEXITED(st) && WEXITSTATUS(st) != 0 ? WEXITSTATUS(st) : 3);
    }
    std::vector<pollfd> fds;
    std::vector<size_t> who;
    for (size_t k = 0; k < ws.size(); ++k)
      if (!ws[k].gone) {
        fds.push_back({ws[k].fd, POLLIN, 0});
        who.push_back(k);
      }
    if (fds.empty()) {
      // Every worker ended, and none claimed the seed due next.
      stop_workers();
      std::fprintf(stderr, "troupe-sim: the workers ended before seed %llu\n",
                   static_cast<unsigned long long>(next));
      std::_Exit(3);
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR)
        continue;
      std::perror("troupe-sim: poll");
      std::exit(3);
    }
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0)
        continue;
      auto& w = ws[who[k]];
      auto n = ::read(w.fd, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        w.gone = true;
        ::waitpid(w.pid, &w.status, 0);
        continue;
      }
      w.in.buf.append(chunk.data(), static_cast<size_t>(n));
      char kind = 0;
      uint64_t s = 0;
      simulation::result r;
      while (w.in.next(kind, s, r)) {
        if (kind == 'C') {
          claimed[s] = who[k];
        } else {
          claimed.erase(s);
          done[s] = std::move(r);
          r = simulation::result{};
        }
      }
    }
  }
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"troupe-sim: runs the whole order saga (several nodes, "
               "simulated Kafka and store, faults chosen by the seed) under "
               "CAF's test coordinator and checks its invariants"};
  std::string seed;
  std::string seeds;
  bool trace = false;
  bool list = false;
  bool stop = false;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  simulation::options opts;
  app.add_option("--seed", seed, "one seed to run (replays exactly)");
  app.add_option("--seeds", seeds, "a range of seeds, A..B");
  app.add_flag("--trace", trace, "print the run's trace (with --seed)");
  app.add_option("--orders", opts.orders, "orders per run")
    ->check(CLI::Range(1, 10000));
  app.add_option("--nodes", opts.nodes, "simulated nodes")
    ->check(CLI::Range(1, 8));
  app.add_option("--mutant", opts.mutant,
                 "switch one deliberate defect on (see --list-mutants)");
  app.add_flag("--list-mutants", list, "print the defects, one a line");
  app
    .add_option("--jobs", jobs,
                "worker processes for a range (default: one per core); "
                "the report is the same for any number")
    ->check(CLI::Range(1, 64));
  app.add_flag("--stop-on-failure", stop,
               "stop at the first seed that breaks an invariant");
  if (auto rc = cli::parse(app, "troupe-sim", argc, argv))
    return *rc;
  if (list) {
    for (auto& m : simulation::mutant_names())
      std::cout << m << "\n";
    return 0;
  }
  if (!opts.mutant.empty()) {
    auto& ms = simulation::mutant_names();
    if (std::find(ms.begin(), ms.end(), opts.mutant) == ms.end())
      return cli::usage_error("troupe-sim", "--mutant: no defect named '"
                                              + opts.mutant
                                              + "' (see --list-mutants)");
  }
  uint64_t lo = 1;
  uint64_t hi = 100;
  if (!seed.empty() && !seeds.empty())
    return cli::usage_error("troupe-sim", "--seed and --seeds: give one");
  if (!seed.empty() && (!parse_range(seed, lo, hi) || lo != hi))
    return cli::usage_error("troupe-sim", "--seed: not a number: " + seed);
  if (!seeds.empty() && !parse_range(seeds, lo, hi))
    return cli::usage_error("troupe-sim",
                            "--seeds: expected A..B with A <= B, got " + seeds);
  auto start = std::chrono::steady_clock::now();
  uint64_t failed = 0;
  uint64_t first_failed = 0;
  double order_seconds = 0;
  uint64_t steps = 0;
  int64_t bound = 0;
  auto last = hi;
  opts.trace = trace && lo == hi;
  // One seed's result, in seed order; false: stop here.
  auto take = [&](uint64_t s, const simulation::result& r) {
    last = s;
    order_seconds += r.simulated_seconds * r.orders;
    steps += r.steps;
    bound = r.liveness_bound_ms;
    if (opts.trace)
      for (auto& line : r.trace)
        std::cout << line << "\n";
    if (r.violations.empty())
      return true;
    if (failed++ == 0)
      first_failed = s;
    std::cout << "seed " << s << ": " << r.violations.size()
              << " invariant violation(s)\n";
    for (size_t i = 0; i < r.violations.size() && i < 5; ++i)
      std::cout << "  " << r.violations[i] << "\n";
    if (failed == 1 && !opts.trace) {
      // The first failure's story: replay it with the trace on.
      auto again = opts;
      again.seed = s;
      again.trace = true;
      auto replay = simulation::run(again);
      std::cout << " trace of seed " << s << " (lines about order "
                << order_of(r.violations.front()) << ", faults and ownership;"
                << " all of it: --seed=" << s << " --trace):\n";
      print_trace(replay.trace, order_of(r.violations.front()));
    }
    return !stop;
  };
  auto workers = static_cast<unsigned>(std::min<uint64_t>(jobs, hi - lo + 1));
  if (workers > 1 && !opts.trace) {
    run_parallel(lo, hi, workers, opts, take);
  } else {
    log::init("sim", "off", "text");
    for (auto s = lo; s <= hi; ++s) {
      opts.seed = s;
      if (!take(s, simulation::run(opts)))
        break;
    }
  }
  hi = last;
  auto secs
    = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
        .count();
  auto n = hi - lo + 1;
  // With --trace the trace alone is on stdout: a replay prints it bit for
  // bit; the timing goes to stderr.
  std::FILE* summary = opts.trace ? stderr : stdout;
  std::fprintf(
    summary,
    "%llu seed(s) %llu..%llu%s: %llu failed%s; %.1f s, %.1f seeds/s, "
    "%.0f simulated order-seconds per second, %.0f actor steps per "
    "seed; liveness bound: every order final %lld ms after its deadline or "
    "the last fault\n",
    static_cast<unsigned long long>(n), static_cast<unsigned long long>(lo),
    static_cast<unsigned long long>(hi),
    opts.mutant.empty() ? "" : (" with " + opts.mutant).c_str(),
    static_cast<unsigned long long>(failed),
    failed ? (" (first: " + std::to_string(first_failed) + ")").c_str() : "",
    secs, static_cast<double>(n) / secs, order_seconds / secs,
    static_cast<double>(steps) / static_cast<double>(n),
    static_cast<long long>(bound));
  return failed == 0 ? 0 : 1;
}
