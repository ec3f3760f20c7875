// How a failed unit of PostgreSQL work is classified: the one place where
// libpqxx exceptions become Troupe errors (actors/errors.hpp gives each code
// its tier: outage, retry, final).
//
//   connection lost, server shutting down, read-only (a demoted primary
//   during failover), out of resources   -> storage_unavailable (outage)
//   commit sent, no answer; a statement
//   whose completion is unknown (40003)   -> commit_unknown (outage; safe to
//                                            redo: every write is idempotent)
//   deadlock, serialization failure,
//   statement cancelled, lock not granted -> transient (retry)
//   the order's partition not claimed yet -> storage_unavailable (outage)
//   anything else the server refused, and
//   any other exception (a defect)        -> storage_rejected / internal (final)
#pragma once

#include <exception>

#include <caf/error.hpp>

namespace troupe {

struct pg_failure {
  caf::error error;
  bool connection_lost = false; ///< drop the connection and reconnect
};

/// Classifies the exception `e` thrown by a unit of PostgreSQL work.
pg_failure classify_pg(const std::exception& e);

} // namespace troupe
