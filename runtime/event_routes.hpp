// Which handler a consumer's messages go to, by topic.
//
//   event_routes r;
//   r.add(topics::order_created, payment);   // payment answers order_created
//   r.add(topics::payment_refund, payment);  // ... and compensation
//
// A topic names the event type its messages decode to (actors/topics.hpp);
// `add` takes only a handle whose typed interface answers that event with a
// `write_outcome`, so a handler wired to the wrong topic does not compile.
// Delivery sends each decoded message to its topic's handler and reads the
// reply as the outcome of the work (runtime/delivery.hpp).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/messages.hpp"
#include "actors/topics.hpp"

namespace troupe {

/// The interface a handler of `Event` needs.
template <class Event>
using event_handler_actor = caf::typed_actor<
  typename caf::replies_to<Event>::template with<write_outcome>>;

class event_routes {
public:
  /// Routes the messages of `t` to `handler`. Fails to compile unless the
  /// handler's interface includes `replies_to<Event>::with<write_outcome>`.
  template <class Event, class Handle>
  void add(topic<Event> t, const Handle& handler) {
    event_handler_actor<Event> checked = handler; // the compile-time check
    handlers_[t.name] = caf::actor_cast<caf::actor>(checked);
  }

  /// The handler of `topic`, or an invalid handle.
  caf::actor handler(const std::string& topic) const {
    auto i = handlers_.find(topic);
    return i == handlers_.end() ? caf::actor{} : i->second;
  }

  /// The routed topics, in name order.
  std::vector<std::string> topics() const {
    std::vector<std::string> xs;
    for (auto& kv : handlers_)
      xs.push_back(kv.first);
    return xs;
  }

  bool empty() const {
    return handlers_.empty();
  }

private:
  std::map<std::string, caf::actor> handlers_;
};

} // namespace troupe
