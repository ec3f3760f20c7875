// The classification of libpqxx exceptions.
#include "adapters/postgres/pg_errors.hpp"

#include <string>

#include <pqxx/except>

#include "adapters/postgres/fencing.hpp"
#include "base/errors.hpp"

namespace troupe {

pg_failure classify_pg(const std::exception& e) {
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr)
    return {make_error(troupe_errc::commit_unknown, e.what()), true};
  // This node was assigned the partition but has not claimed it yet: the
  // write waits for the claim (retrying in the background).
  if (dynamic_cast<const partition_unclaimed*>(&e) != nullptr)
    return {make_error(troupe_errc::storage_unavailable, e.what()), false};
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr)
    return {make_error(troupe_errc::storage_unavailable, e.what()), true};
  // libpqxx 6 reports class 40 (deadlock, serialization failure, statement
  // completion unknown) as transaction_rollback, which is not an sql_error.
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr)
    return {make_error(troupe_errc::commit_unknown, e.what()), true};
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr)
    return {make_error(troupe_errc::transient, e.what()), false};
  if (auto sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string state = sql->sqlstate();
    auto cls = state.substr(0, 2);
    if (cls == "08" || state == "57P01" || state == "57P02" || state == "57P03"
        || state == "25006")
      return {make_error(troupe_errc::storage_unavailable, e.what()), true};
    if (cls == "53" || cls == "58")
      return {make_error(troupe_errc::storage_unavailable, e.what()), false};
    if (state == "40001" || state == "40P01" || state == "57014"
        || state == "55P03")
      return {make_error(troupe_errc::transient, e.what()), false};
    return {make_error(troupe_errc::storage_rejected, e.what()), false};
  }
  return {make_error(troupe_errc::internal, e.what()), false};
}

} // namespace troupe
