// The SQL catalogue of the store: the statements every shard connection
// prepares, by name. The commands (store_commands.hpp) run them.
#pragma once

#include <pqxx/connection>

namespace troupe::pg {

/// Prepares every statement of the catalogue on `c`.
void prepare_statements(pqxx::connection& c);

} // namespace troupe::pg
