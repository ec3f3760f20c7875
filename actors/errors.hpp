// Troupe's error codes. Each says whether retrying the work can help.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace troupe {

enum class troupe_errc : uint8_t { // append only
  malformed_event = 1, ///< final: the message goes to the dead-letter topic
  storage_unavailable, ///< retryable: the database is down or unreachable
  commit_unknown,      ///< retryable only because every write is idempotent
  storage_rejected,    ///< final: the database refused the write
  not_found,           ///< final: the entity does not exist
  unavailable,         ///< retryable: the node is not ready or shutting down
  timeout,             ///< retryable: no answer in time
};

/// Category atom under which Troupe's errors travel.
constexpr caf::atom_value troupe_category = caf::atom("troupe");

inline caf::error make_error(troupe_errc x) {
  return caf::error{static_cast<uint8_t>(x), troupe_category};
}

inline caf::error make_error(troupe_errc x, std::string what) {
  return caf::error{static_cast<uint8_t>(x), troupe_category,
                    caf::make_message(std::move(what))};
}

const char* to_string(troupe_errc x);

/// Whether retrying the failed work may succeed.
bool retryable(const caf::error& err);

/// Whether `err` means the store (not the message) is the problem: waiting
/// helps, spending a retry budget does not.
bool is_outage(const caf::error& err);

/// Renders any error for logs and dead-letter headers.
std::string describe(const caf::error& err);

} // namespace troupe
