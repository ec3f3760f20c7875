// The classification of libpqxx's exceptions: which failures wait out an
// outage, which are worth a retry, which are final, and which leave the
// commit's outcome unknown. The exceptions are libpqxx's own types.
#define CAF_SUITE pg_errors
#include "adapters/postgres/pg_errors.hpp"

#include <stdexcept>

#include <caf/test/unit_test.hpp>
#include <pqxx/except>

#include "base/errors.hpp"

using namespace troupe;

namespace {

error_tier tier(const std::exception& e) {
  return tier_of(classify_pg(e).error);
}

} // namespace

CAF_TEST(a deadlock or a serialization failure is worth a retry) {
  // In libpqxx 6 these are not sql_errors: they derive from
  // transaction_rollback, which derives from failure.
  CAF_CHECK_EQUAL(tier(pqxx::deadlock_detected{"ERROR:  deadlock detected"}),
                  error_tier::retry);
  CAF_CHECK_EQUAL(tier(pqxx::serialization_failure{"could not serialize"}),
                  error_tier::retry);
  CAF_CHECK_EQUAL(tier(pqxx::transaction_rollback{"40000"}), error_tier::retry);
}

CAF_TEST(a statement whose completion is unknown leaves the commit unknown) {
  auto f = classify_pg(pqxx::statement_completion_unknown{"40003"});
  CAF_CHECK(has_code(f.error, troupe_errc::commit_unknown));
  f = classify_pg(pqxx::in_doubt_error{"commit in doubt"});
  CAF_CHECK(has_code(f.error, troupe_errc::commit_unknown));
}

CAF_TEST(a lost connection or a demoted primary is an outage) {
  CAF_CHECK_EQUAL(tier(pqxx::broken_connection{"server closed"}),
                  error_tier::outage);
  CAF_CHECK(classify_pg(pqxx::broken_connection{"x"}).connection_lost);
  CAF_CHECK_EQUAL(tier(pqxx::sql_error{"read-only", "UPDATE", "25006"}),
                  error_tier::outage);
  CAF_CHECK_EQUAL(tier(pqxx::sql_error{"shutting down", "", "57P01"}),
                  error_tier::outage);
  CAF_CHECK_EQUAL(tier(pqxx::sql_error{"too many clients", "", "53300"}),
                  error_tier::outage);
}

CAF_TEST(a statement the database refuses is final) {
  CAF_CHECK_EQUAL(tier(pqxx::sql_error{"duplicate key", "INSERT", "23505"}),
                  error_tier::final);
  CAF_CHECK_EQUAL(tier(pqxx::sql_error{"invalid byte sequence", "", "22021"}),
                  error_tier::final);
  CAF_CHECK_EQUAL(tier(std::runtime_error{"something else"}),
                  error_tier::final);
}
