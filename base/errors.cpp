// Error rendering and the retry classification.
#include "base/errors.hpp"

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
    case troupe_errc::handed_off:
      return "handed_off";
    case troupe_errc::internal:
      return "internal";
    case troupe_errc::transient:
      return "transient";
    case troupe_errc::overloaded:
      return "overloaded";
  }
  return "unknown";
}

const char* to_string(error_tier x) {
  switch (x) {
    case error_tier::outage:
      return "outage";
    case error_tier::retry:
      return "retry";
    case error_tier::final:
      return "final";
    case error_tier::handed_off:
      return "handed_off";
  }
  return "unknown";
}

error_tier tier_of(const caf::error& err) {
  if (err.category() == troupe_category) {
    switch (static_cast<troupe_errc>(err.code())) {
      case troupe_errc::storage_unavailable:
      case troupe_errc::commit_unknown:
      case troupe_errc::unavailable:
      case troupe_errc::overloaded:
        return error_tier::outage;
      case troupe_errc::timeout:
      case troupe_errc::transient:
        return error_tier::retry;
      case troupe_errc::handed_off:
        return error_tier::handed_off;
      case troupe_errc::malformed_event:
      case troupe_errc::storage_rejected:
      case troupe_errc::not_found:
      case troupe_errc::internal:
        return error_tier::final;
    }
    return error_tier::final; // a code this build does not know
  }
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
      case caf::sec::unexpected_message:
      case caf::sec::unexpected_response:
        // A handler that does not understand the message: a wiring defect
        // that no retry fixes.
        return error_tier::final;
      default:
        // Request timeouts, a receiver that is down or restarting.
        return error_tier::retry;
    }
  }
  return error_tier::retry;
}

bool is_outage(const caf::error& err) {
  return err && tier_of(err) == error_tier::outage;
}

bool retryable(const caf::error& err) {
  if (!err)
    return false;
  auto t = tier_of(err);
  return t == error_tier::outage || t == error_tier::retry;
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
