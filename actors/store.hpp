// The storage port of the domain actors.
//
// Production binds it to the PostgreSQL adapter (adapters/postgres), which
// commits every command together with its outbox events and its
// processed_events row in one transaction. Tests bind it to in-memory fakes.
#pragma once

#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/messages.hpp"

namespace troupe {

using store_actor = caf::typed_actor<
  caf::replies_to<payment_cmd>::with<write_outcome>,
  caf::replies_to<reserve_cmd>::with<write_outcome>,
  caf::replies_to<release_cmd>::with<write_outcome>,
  caf::replies_to<refund_cmd>::with<write_outcome>,
  caf::replies_to<notify_cmd>::with<write_outcome>,
  caf::replies_to<analytics_cmd>::with<write_outcome>,
  caf::replies_to<saga_write>::with<write_outcome>,
  caf::replies_to<load_saga>::with<saga_snapshot>,
  caf::replies_to<list_open_sagas>::with<std::vector<saga_snapshot>>>;

/// Where messages go that cannot be processed; failed attempts that will be
/// retried are noted there too.
using dead_letter_actor
  = caf::typed_actor<caf::replies_to<dead_letter>::with<write_outcome>,
                     caf::replies_to<retry_note>::with<write_outcome>>;

/// Takes a dead letter straight to its `.dlq` topic when the store refuses
/// it (the Kafka adapter); replies after the broker acknowledged it.
using dead_letter_fallback_actor
  = caf::typed_actor<caf::replies_to<dead_letter>::with<write_outcome>>;

} // namespace troupe
