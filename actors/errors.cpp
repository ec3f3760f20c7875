// Error rendering and the retry classification.
#include "errors.hpp"

#include <caf/sec.hpp>

namespace troupe {

const char* to_string(troupe_errc x) {
  switch (x) {
    case troupe_errc::malformed_event:
      return "malformed_event";
    case troupe_errc::storage_unavailable:
      return "storage_unavailable";
    case troupe_errc::commit_unknown:
      return "commit_unknown";
    case troupe_errc::storage_rejected:
      return "storage_rejected";
    case troupe_errc::not_found:
      return "not_found";
    case troupe_errc::unavailable:
      return "unavailable";
    case troupe_errc::timeout:
      return "timeout";
  }
  return "unknown";
}

bool is_outage(const caf::error& err) {
  if (err.category() != troupe_category)
    return false;
  switch (static_cast<troupe_errc>(err.code())) {
    case troupe_errc::storage_unavailable:
    case troupe_errc::commit_unknown:
    case troupe_errc::unavailable:
      return true;
    default:
      return false;
  }
}

bool retryable(const caf::error& err) {
  if (!err)
    return false;
  if (err.category() == troupe_category)
    return is_outage(err)
           || static_cast<troupe_errc>(err.code()) == troupe_errc::timeout;
  // Runtime errors such as request timeouts or a restarted actor.
  return true;
}

std::string describe(const caf::error& err) {
  if (!err)
    return "none";
  std::string result;
  if (err.category() == troupe_category) {
    result = to_string(static_cast<troupe_errc>(err.code()));
  } else if (err.category() == caf::atom("system")) {
    result = caf::to_string(static_cast<caf::sec>(err.code()));
  } else {
    result = caf::to_string(err.category()) + ":" + std::to_string(err.code());
  }
  auto& ctx = err.context();
  if (ctx.match_elements<std::string>())
    result += ": " + ctx.get_as<std::string>(0);
  return result;
}

} // namespace troupe
