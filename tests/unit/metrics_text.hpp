// Reading the Prometheus text of /metrics in tests: one sample's value by
// name and label set (in any order), as a scraper matches it.
#pragma once

#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

namespace troupe::test {

using label_set = std::map<std::string, std::string>;

/// The labels of one sample line (`name{a="x",b="y"} 1`).
inline label_set labels_of(const std::string& braces) {
  label_set out;
  static const std::regex pair{R"re((\w+)="([^"]*)")re"};
  for (auto i = std::sregex_iterator(braces.begin(), braces.end(), pair);
       i != std::sregex_iterator(); ++i)
    out[(*i)[1]] = (*i)[2];
  return out;
}

/// The value of the sample `name` whose labels are exactly `labels`; none
/// when the text has no such series.
inline std::optional<double> sample(const std::string& text,
                                    const std::string& name,
                                    const label_set& labels = {}) {
  static const std::regex line{
    R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)re"};
  std::istringstream in{text};
  std::string l;
  std::smatch m;
  while (std::getline(in, l)) {
    if (l.empty() || l[0] == '#' || !std::regex_match(l, m, line))
      continue;
    if (m[1] == name && labels_of(m[3]) == labels)
      return std::stod(m[4]);
  }
  return std::nullopt;
}

} // namespace troupe::test
