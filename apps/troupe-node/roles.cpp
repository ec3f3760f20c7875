#include "apps/troupe-node/roles.hpp"

#include <caf/send.hpp>

#include "actors/intake.hpp"
#include "actors/saga_router.hpp"
#include "actors/services.hpp"
#include "actors/topics.hpp"
#include "base/partitioner.hpp"
#include "envelope/codec.hpp"
#include "envelope/events.hpp"
#include "envelope/intake.hpp"
#include "observability/log.hpp"

namespace troupe {

int32_t partition_ownership::partition_of(const std::string& order_id) const {
  auto n = partitions.load();
  return n > 0 ? partition_for(order_id, n) : -1;
}

bool partition_ownership::owns(const std::string& order_id) {
  auto p = partition_of(order_id);
  std::lock_guard<std::mutex> guard{mtx};
  return p >= 0 && owned.count(p) > 0;
}

namespace {

/// A service role: `spawn(sys, store, cfg)` starts the service, which
/// answers the events of every topic in `ts`.
template <class Spawn, class... Events>
consumer_role service(const char* name, Spawn spawn, topic<Events>... ts) {
  return {name, [=](node_context& n, consumer_wiring& c) {
            auto svc = n.supervise(
              name, [spawn, store = store_actor{n.store},
                     stock = n.cfg.default_stock](caf::actor_system& sys) {
                return spawn(sys, store, stock);
              });
            (c.routes.add(ts, svc), ...);
          }};
}

/// The orchestrator role: the saga router behind a supervisor, fed by the
/// results topics and the customers' cancel requests; partition assignments drive fencing, claims and
/// hand-offs.
void wire_orchestrator(node_context& n, consumer_wiring& c) {
  auto own = n.own;
  auto partitions = n.partitions;
  const auto* results = topics::payment_result.name;
  // One try now; if Kafka does not answer, the readiness check learns the
  // partition count as soon as it does.
  own->partitions = partitions(results);
  if (own->partitions == 0)
    log::warn("node",
              "cannot read the partitions of {} yet; sagas are rehydrated "
              "once Kafka answers",
              results);
  saga_router_config rc;
  rc.sweep_interval = std::chrono::duration_cast<std::chrono::milliseconds>(
    n.cfg.sweep_interval);
  rc.passivate_after = std::chrono::duration_cast<std::chrono::milliseconds>(
    n.cfg.passivate_after);
  rc.owns = [own](const std::string& id) { return own->owns(id); };
  rc.partition_of = [own](const std::string& id) {
    return own->partition_of(id);
  };
  // A restarted router rehydrates the open sagas of its partitions.
  auto router = n.supervise("saga router", [store = store_actor{n.store},
                                            rc](caf::actor_system& sys) {
    return sys.spawn(saga_router, store, rc, true);
  });
  c.routes.add(topics::payment_result, router);
  c.routes.add(topics::inventory_result, router);
  // Same consumer group as the results: a cancel request reaches the node
  // that owns the order's partition (the same partition number on every
  // topic, keyed by order id).
  c.routes.add(topics::cancel_requested, router);
  // The sagas of claimed partitions are rehydrated once claimed.
  auto claims
    = n.fencing([router] { caf::anon_send(router, rehydrate_atom::value); });
  n.checks.push_back({"fencing", claims.not_ready});
  n.checks.push_back(
    {"orchestrator", [own, partitions, router, results]() -> std::string {
       if (own->partitions > 0)
         return "";
       if (auto n = partitions(results); n > 0) {
         own->partitions = n;
         log::info("node", "{} has {} partitions: rehydrating sagas", results,
                   n);
         caf::anon_send(router, rehydrate_atom::value);
         return "";
       }
       return std::string{"orchestrator: partitions of "} + results
              + " not known yet";
     }});
  // Runs on the consumer's thread inside its rebalance (librdkafka's
  // callback): records the assignment; the claim follows (PostgreSQL's
  // claimer claims on its own thread). Until then saga writes for these
  // partitions get a retryable error.
  c.on_assigned = [own, claims](const std::vector<int32_t>& parts) {
    claims.assigned(parts);
    {
      std::lock_guard<std::mutex> guard{own->mtx};
      own->owned.insert(parts.begin(), parts.end());
    }
    claims.claim();
  };
  c.on_revoked = [own, router, claims](const std::vector<int32_t>& parts) {
    claims.released(parts);
    {
      std::lock_guard<std::mutex> guard{own->mtx};
      for (auto p : parts)
        own->owned.erase(p);
    }
    caf::anon_send(router, revoke_atom::value, parts);
  };
}

/// The intake role: orders produced to `intake.topic`, decoded and
/// validated like POST /orders bodies, created through the store.
void wire_intake(node_context& n, consumer_wiring& c) {
  intake_config ic;
  ic.deadline_ms
    = std::chrono::duration_cast<std::chrono::milliseconds>(n.cfg.deadline)
        .count();
  ic.new_id = [] { return events::new_uuid(); };
  if (auto gate = n.admission)
    ic.admit = [gate] { return gate->admit(); };
  auto svc = n.supervise("intake", [store = order_intake_actor{n.store},
                                    ic](caf::actor_system& sys) {
    return sys.spawn(intake_service, store, ic);
  });
  // The name outlives the routes: the node's configuration does.
  c.routes.add(topic<order_requested>{n.cfg.intake_topic.c_str()}, svc);
  c.decode = [intake = n.cfg.intake_topic](const std::string& t,
                                           const std::string& key,
                                           const std::string& payload,
                                           std::string& correlation_id) {
    return t == intake ? codec::decode_order_request(key, payload)
                       : codec::decode(t, key, payload, correlation_id);
  };
}

} // namespace

const std::vector<consumer_role>& consumer_roles() {
  static const std::vector<consumer_role> roles{
    service(
      "payment",
      [](caf::actor_system& sys, store_actor store, int64_t) {
        return sys.spawn(payment_service, store);
      },
      topics::order_created, topics::payment_refund),
    service(
      "inventory",
      [](caf::actor_system& sys, store_actor store, int64_t stock) {
        return sys.spawn(inventory_service, store, stock);
      },
      topics::order_created, topics::inventory_release),
    service(
      "notification",
      [](caf::actor_system& sys, store_actor store, int64_t) {
        return sys.spawn(notification_service, store);
      },
      topics::status_changed),
    service(
      "analytics",
      [](caf::actor_system& sys, store_actor store, int64_t) {
        return sys.spawn(analytics_service, store);
      },
      topics::order_created),
    {"orchestrator", wire_orchestrator},
    {"intake", wire_intake},
  };
  return roles;
}

} // namespace troupe
