// Runs CLI11 under Troupe's command-line policy: CLI11's own exit codes
// (one per error class, none of them 2) and multi-line messages become one
// line naming the flag and exit code 2.
#include "cli/cli.hpp"

#include <iostream>

#include <CLI/CLI.hpp>

namespace troupe::cli {

namespace {

std::string one_line(std::string text) {
  for (auto& c : text)
    if (c == '\n' || c == '\r')
      c = ' ';
  while (!text.empty() && text.back() == ' ')
    text.pop_back();
  return text;
}

} // namespace

int usage_error(const std::string& app, const std::string& problem,
                std::ostream& err) {
  err << app << ": " << one_line(problem) << '\n'
      << "run '" << app << " --help' for the options" << std::endl;
  return usage_exit_code;
}

int usage_error(const std::string& app, const std::string& problem) {
  return usage_error(app, problem, std::cerr);
}

std::optional<int> parse(CLI::App& cmd, const std::string& app, int argc,
                         char** argv) {
  // Usage lines then say "troupe-broker", not the path it was started by.
  if (cmd.get_name().empty())
    cmd.name(app);
  try {
    cmd.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::CallForHelp&) {
    std::cout << cmd.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << cmd.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::Success& e) {
    return cmd.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(app, e.what());
  }
}

} // namespace troupe::cli
