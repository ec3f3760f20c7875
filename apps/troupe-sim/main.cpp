// troupe-sim: the whole saga under deterministic simulation (world.hpp).
//
//   troupe-sim --seeds=1..1000          runs a range; exits 1 if any seed
//                                       breaks an invariant
//   troupe-sim --seed=N --trace         replays one run, printing its trace
//   troupe-sim --list-mutants           the deliberate defects, one a line
//   troupe-sim --mutant=NAME --seeds=.. the same with one defect switched on
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

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
  log::init("sim", "off", "text");
  auto start = std::chrono::steady_clock::now();
  uint64_t failed = 0;
  uint64_t first_failed = 0;
  double order_seconds = 0;
  uint64_t steps = 0;
  int64_t bound = 0;
  auto last = hi;
  for (auto s = lo; s <= hi; ++s) {
    last = s;
    opts.seed = s;
    opts.trace = trace && lo == hi;
    auto r = simulation::run(opts);
    order_seconds += r.simulated_seconds * r.orders;
    steps += r.steps;
    bound = r.liveness_bound_ms;
    if (opts.trace)
      for (auto& line : r.trace)
        std::cout << line << "\n";
    if (r.violations.empty())
      continue;
    if (failed++ == 0)
      first_failed = s;
    std::cout << "seed " << s << ": " << r.violations.size()
              << " invariant violation(s)\n";
    for (size_t i = 0; i < r.violations.size() && i < 5; ++i)
      std::cout << "  " << r.violations[i] << "\n";
    if (failed == 1 && !opts.trace) {
      // The first failure's story: replay it with the trace on.
      auto again = opts;
      again.trace = true;
      auto replay = simulation::run(again);
      std::cout << " trace of seed " << s << " (lines about order "
                << order_of(r.violations.front()) << ", faults and ownership;"
                << " all of it: --seed=" << s << " --trace):\n";
      print_trace(replay.trace, order_of(r.violations.front()));
    }
    if (stop)
      break;
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
