// The command-line policy shared by Troupe's programs: one dialect
// (`--name=value` or `--name value`; `-h`/`--help` prints usage and exits 0)
// and one answer to a usage error: a single line `troupe-<app>: <problem>`
// naming the flag or key, a hint to use --help, exit code 2.
#pragma once

#include <optional>
#include <ostream>
#include <string>

namespace CLI {
class App;
} // namespace CLI

namespace troupe::cli {

/// Exit code of every usage error (unknown flag, missing or ill-typed value,
/// value out of range, bad config key).
constexpr int usage_exit_code = 2;

/// Writes `<app>: <problem>` on one line (line breaks in `problem` become
/// spaces) and the hint line to `err`; returns `usage_exit_code`.
int usage_error(const std::string& app, const std::string& problem,
                std::ostream& err);

/// `usage_error` on stderr.
int usage_error(const std::string& app, const std::string& problem);

/// Parses `argv` with `cmd` under the policy. Returns nothing when the
/// program should go on, or the exit code to return from main: 0 after
/// printing the help on stdout, `usage_exit_code` after a usage error.
/// Run with the program name as `app` (e.g. "troupe-broker").
std::optional<int> parse(CLI::App& cmd, const std::string& app, int argc,
                         char** argv);

} // namespace troupe::cli
