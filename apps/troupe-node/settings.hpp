// What each part of the node gets from the node's configuration: one
// function per adapter, so the composition root never copies fields.
#pragma once

#include "adapters/http/http_api.hpp"
#include "adapters/kafka/kafka_settings.hpp"
#include "adapters/outbox/outbox_relay.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "adapters/postgres/retention.hpp"
#include "apps/troupe-node/node_config.hpp"

namespace troupe {

kafka_settings kafka_settings_of(const node_config& cfg);

/// The store's settings; `fence` fences saga writes (none: unfenced).
pg_settings pg_settings_of(const node_config& cfg,
                           std::shared_ptr<partition_fence> fence);

relay_config relay_config_of(const node_config& cfg);

retention_settings retention_settings_of(const node_config& cfg);

http_settings http_settings_of(const node_config& cfg);

} // namespace troupe
