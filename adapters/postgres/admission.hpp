// Admission control's count of open orders in PostgreSQL (the gate itself
// is runtime/admission.hpp).
#pragma once

#include <string>

#include "runtime/admission.hpp"

namespace troupe {

/// Counts the orders with status NEW (an index-only count over the partial
/// index of open orders) on a connection of its own, opened on first use
/// and reopened with backoff after a failure; answers nothing meanwhile.
admission_gate::counter pg_open_orders(std::string pg_url);

} // namespace troupe
