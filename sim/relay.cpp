#include "sim/relay.hpp"

#include <algorithm>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

#include "actors/topics.hpp"
#include "base/errors.hpp"
#include "envelope/codec.hpp"

namespace troupe::sim {

std::string encode(const outbox_row& row, const std::string& at) {
  return std::visit(
    [&](const auto& x) -> std::string {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, std::monostate>)
        return row.payload; // a dead letter: the bytes as received
      else if constexpr (std::is_same_v<T, order_created>)
        return codec::encode(x, std::string{}, at).text;
      else if constexpr (std::is_same_v<T, payment_result>)
        return codec::encode(x, row.amount_cents, at).text;
      else if constexpr (std::is_same_v<T, inventory_result>)
        return codec::encode(x, row.lines, row.short_skus, at).text;
      else if constexpr (std::is_same_v<T, compensation>)
        return (row.topic == topics::payment_refund.name
                  ? codec::encode_refund(x, row.amount_cents, at)
                  : codec::encode_release(x, at))
          .text;
      else
        return codec::encode(x, at).text;
    },
    row.event);
}

relay::relay(std::shared_ptr<memory_db> db, std::shared_ptr<kafka> bus, hooks h,
             relay_core::settings cfg)
  : db_(std::move(db)),
    bus_(std::move(bus)),
    hooks_(std::move(h)),
    core_(std::move(cfg)) {
  // nop
}

void relay::run(relay_core::clock::time_point now) {
  std::lock_guard<std::mutex> guard{db_->mtx};
  auto& outbox = db_->outbox;
  for (;;) {
    while (relayed_ < outbox.size() && outbox[relayed_].published)
      ++relayed_;
    auto limit = core_.claim_limit();
    auto skip = core_.excluded(now);
    std::vector<relay_row> claimed;
    std::unordered_map<int64_t, size_t> at; // row id -> index
    for (auto i = relayed_; i < outbox.size() && claimed.size() < limit; ++i) {
      auto& row = outbox[i];
      if (row.published || core_.in_flight(row.id)
          || std::binary_search(skip.begin(), skip.end(), row.id))
        continue;
      at[row.id] = i;
      claimed.push_back({row.id, row.topic, row.key, 0});
    }
    if (claimed.empty())
      return;
    bool down = false;
    for (auto& r : core_.start(std::move(claimed), now).produce) {
      auto& row = outbox[at[r.id]];
      auto text = down ? std::string{}
                       : encode(row, hooks_.at ? hooks_.at() : "");
      int64_t offset = 0;
      auto tp = down ? topic_partition{row.topic, -1}
                     : bus_->produce(row.topic, row.key, text, &offset);
      if (tp.partition < 0) {
        down = true;
        core_.delivered(r.id, publish_outcome::failed);
        continue;
      }
      if (hooks_.published && hooks_.published(row, tp, offset, false)) {
        tp = bus_->produce(row.topic, row.key, text, &offset);
        hooks_.published(row, tp, offset, true);
      }
      core_.delivered(r.id, publish_outcome::published);
    }
    bool outage = false;
    while (auto b = core_.take_settled(now)) {
      outage |= b->outage;
      for (auto id : b->published())
        outbox[at[id]].published = true;
    }
    if (outage)
      return;
  }
}

caf::behavior relay_loop(caf::event_based_actor* self, std::shared_ptr<relay> r,
                         std::chrono::milliseconds interval) {
  self->send(self, relay_tick_atom::value);
  return {
    [=](relay_tick_atom) {
      r->run(relay_core::clock::now());
      self->delayed_send(self, interval, relay_tick_atom::value);
    },
  };
}

dead_letter_fallback_actor::behavior_type
dlq_producer(dead_letter_fallback_actor::pointer, std::shared_ptr<kafka> bus) {
  return {
    [bus](dead_letter& d) -> caf::result<write_outcome> {
      if (bus->produce(d.topic + ".dlq", d.key, d.payload).partition < 0)
        return make_error(troupe_errc::unavailable, "the broker is down");
      return write_outcome::applied;
    },
  };
}

} // namespace troupe::sim
