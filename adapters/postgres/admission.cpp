// Admission control's count of open orders (see admission.hpp).
#include "adapters/postgres/admission.hpp"

#include <memory>

#include <pqxx/pqxx>

#include "adapters/postgres/connection.hpp"

namespace troupe {

admission_gate::counter pg_open_orders(std::string pg_url) {
  // Opened on the gate's thread, at its first count.
  auto conn = std::make_shared<std::unique_ptr<pg_connection>>();
  return [conn, url = std::move(pg_url)]() -> std::optional<int64_t> {
    if (!*conn)
      *conn = std::make_unique<pg_connection>(url, "admission");
    auto* c = (*conn)->get();
    if (c == nullptr)
      return std::nullopt;
    try {
      pqxx::read_transaction tx{*c};
      return tx.exec1("SELECT count(*) FROM orders WHERE status = 'NEW'")[0]
        .as<int64_t>();
    } catch (const std::exception&) {
      (*conn)->reset(); // the last count stands; reconnects with backoff
      return std::nullopt;
    }
  };
}

} // namespace troupe
