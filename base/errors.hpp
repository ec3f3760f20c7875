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
  handed_off,          ///< this node no longer owns the work (its partition
                       ///< moved): dropped here, the new owner processes it
  internal,            ///< final: a defect or input no retry can fix
  transient,           ///< retryable: contention (deadlock, serialization)
  overloaded, ///< retryable later: the engine has as many orders in flight
              ///< as `saga.max-in-flight` allows (admission control)
};

/// What a failure means for the work that hit it; decided in one place
/// (`tier_of`) for the store, the relay and the delivery actor.
enum class error_tier : uint8_t {
  outage,     ///< the store or broker is unreachable: wait, spend no budget
  retry,      ///< retrying may help: spend one attempt of the budget
  final,      ///< no retry can fix it: dead-letter after this attempt
  handed_off, ///< not this node's work any more: drop it, do not commit
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

/// Whether `err` is Troupe's error `x`.
inline bool has_code(const caf::error& err, troupe_errc x) {
  return err.category() == troupe_category
         && err.code() == static_cast<uint8_t>(x);
}

/// The tier of any error (Troupe's own codes and CAF's runtime errors).
error_tier tier_of(const caf::error& err);

const char* to_string(error_tier x);

/// Whether retrying the failed work may succeed (outage or retry tier).
bool retryable(const caf::error& err);

/// Whether `err` means the store (not the message) is the problem: waiting
/// helps, spending a retry budget does not.
bool is_outage(const caf::error& err);

/// Renders any error for logs and dead-letter headers.
std::string describe(const caf::error& err);

} // namespace troupe
