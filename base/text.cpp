// Small text helpers (see text.hpp).
#include "base/text.hpp"

#include <cctype>

#include <cstdio>
#include <ctime>

namespace troupe {

std::string ascii_lower(std::string_view x) {
  std::string out{x};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string iso8601(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto secs = system_clock::to_time_t(t);
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string iso8601_now() {
  return iso8601(std::chrono::system_clock::now());
}

bool is_uuid(std::string_view x) {
  if (x.size() != 36)
    return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (x[i] != '-')
        return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(x[i]))) {
      return false;
    }
  }
  return true;
}

} // namespace troupe
