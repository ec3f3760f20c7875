// Commands that only the adapters send to the PostgreSQL store, on top of the
// domain's store port (actors/store.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace troupe {

/// Creates an order with its `order.created` outbox event.
struct create_order {
  std::string order_id;
  std::string correlation_id;
  std::string idempotency_key; ///< empty: none
  std::string customer_email;
  std::string sku;
  int32_t quantity = 0;
  int64_t amount_cents = 0;
  int64_t deadline_ms = 30000;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, create_order& x) {
  return f(caf::meta::type_name("create_order"), x.order_id, x.correlation_id,
           x.idempotency_key, x.customer_email, x.sku, x.quantity,
           x.amount_cents, x.deadline_ms);
}

/// The order as stored; `created` is false when an earlier request with the
/// same idempotency key created it.
struct created_order {
  std::string order_id;
  std::string correlation_id;
  std::string status;
  bool created = false;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, created_order& x) {
  return f(caf::meta::type_name("created_order"), x.order_id,
           x.correlation_id, x.status, x.created);
}

/// A message that could not be processed: recorded in `dead_letters` and
/// published to `<topic>.dlq` through the outbox.
struct dead_letter {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string payload;
  std::string error;
  int32_t attempts = 0;
  std::string first_failure; ///< ISO-8601
  std::string last_failure;  ///< ISO-8601
  std::string correlation_id;
  std::string consumer;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dead_letter& x) {
  return f(caf::meta::type_name("dead_letter"), x.topic, x.partition, x.offset,
           x.key, x.payload, x.error, x.attempts, x.first_failure,
           x.last_failure, x.correlation_id, x.consumer);
}

} // namespace troupe
