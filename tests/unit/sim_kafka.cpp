// The simulated Kafka and its consumer: keys keep their partition, groups
// split partitions by range, commits of an older generation are refused,
// and the consumer delivers every message, commits only what is done, and
// after a crash its successor reads the uncommitted messages again.
#define CAF_SUITE sim_kafka
#include "sim/consumer.hpp"

#include <atomic>
#include <thread>

#include <caf/test/dsl.hpp>

#include "base/errors.hpp"
#include "base/partitioner.hpp"

using namespace troupe;
using namespace std::chrono_literals;

namespace {

struct handled {
  std::vector<std::string> events; ///< event ids, in handling order
  std::set<std::string> silent;    ///< events never answered
};

using order_handler = event_handler_actor<order_created>;

order_handler::behavior_type recorder(order_handler::pointer self,
                                      std::shared_ptr<handled> h) {
  return {
    [=](const order_created& x) -> caf::result<write_outcome> {
      h->events.push_back(x.event_id);
      if (h->silent.count(x.event_id) > 0)
        return self->make_response_promise<write_outcome>(); // never answered
      return write_outcome::applied;
    },
  };
}

caf::expected<caf::message> decode(const std::string&, const std::string& key,
                                   const std::string& payload, std::string&) {
  order_created x;
  x.event_id = payload;
  x.order_id = key;
  return caf::make_message(std::move(x));
}

dead_letter_actor::behavior_type no_dead_letters() {
  return {
    [](dead_letter&) { return write_outcome::applied; },
    [](retry_note&) { return write_outcome::applied; },
  };
}

struct fixture : test_coordinator_fixture<> {
  std::shared_ptr<sim::kafka> bus = std::make_shared<sim::kafka>();
  std::shared_ptr<handled> h = std::make_shared<handled>();
  order_handler handler;
  dead_letter_actor dlq;

  fixture() {
    bus->create_topic("order.created", 3);
    handler = sys.spawn(recorder, h);
    dlq = sys.spawn(no_dead_letters);
  }

  caf::actor start(const std::string& member) {
    sim::consumer_config c;
    c.group = "payment";
    c.member = member;
    c.bus = bus;
    c.routes.add(topics::order_created, handler);
    c.decode = decode;
    c.dead_letters = dlq;
    c.unit = [] { return 0.5; };
    c.now = [] { return std::string{"t"}; };
    return sys.spawn(sim::consumer, c);
  }

  void run_for(std::chrono::milliseconds d) {
    for (auto t = 0ms; t < d; t += 5ms) {
      sched.run();
      sched.advance_time(5ms);
    }
    sched.run();
  }

  int64_t committed_total() {
    int64_t n = 0;
    for (int32_t p = 0; p < 3; ++p)
      n += bus->committed("payment", {"order.created", p});
    return n;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(sim_kafka_tests, fixture)

CAF_TEST(a key keeps its partition and records their order) {
  int64_t at = -1;
  auto tp = bus->produce("order.created", "order-1", "a", &at);
  CAF_CHECK_EQUAL(tp.partition, partition_for("order-1", 3));
  CAF_CHECK_EQUAL(at, 0);
  bus->produce("order.created", "order-1", "b", &at);
  CAF_CHECK_EQUAL(at, 1);
  auto recs = bus->fetch(tp, 0, 10);
  CAF_REQUIRE_EQUAL(recs.size(), 2u);
  CAF_CHECK_EQUAL(recs[0].value, "a");
  CAF_CHECK_EQUAL(recs[1].value, "b");
}

CAF_TEST(a group splits partitions by range and refuses stale commits) {
  auto g1 = bus->join("payment", "a", {"order.created"});
  CAF_CHECK_EQUAL(bus->assignment("payment", "a").size(), 3u);
  auto g2 = bus->join("payment", "b", {"order.created"});
  CAF_CHECK_NOT_EQUAL(g1, g2);
  CAF_CHECK_EQUAL(bus->assignment("payment", "a").size(), 2u);
  CAF_CHECK_EQUAL(bus->assignment("payment", "b").size(), 1u);
  topic_partition p0{"order.created", 0};
  CAF_CHECK(!bus->commit("payment", "a", g1, p0, 5)); // older generation
  CAF_CHECK(!bus->commit("payment", "b", g2, p0, 5)); // not b's partition
  CAF_CHECK(bus->commit("payment", "a", g2, p0, 5));
  CAF_CHECK_EQUAL(bus->committed("payment", p0), 5);
  bus->leave("payment", "a");
  CAF_CHECK_EQUAL(bus->assignment("payment", "b").size(), 3u);
}

CAF_TEST(a member cut off from its group keeps its old view until it rejoins) {
  auto g1 = bus->join("payment", "a", {"order.created"});
  bus->join("payment", "b", {"order.created"});
  auto g2 = bus->generation("payment");
  auto before = bus->assignment("payment", "a");
  bus->isolate("payment", "a");
  // The group moved on without it: b holds everything, a still believes in
  // its generation and its partitions, and its commits are refused.
  CAF_CHECK_NOT_EQUAL(bus->generation("payment"), g2);
  CAF_CHECK_EQUAL(bus->generation("payment", "a"), g2);
  CAF_CHECK_EQUAL(bus->assignment("payment", "b").size(), 3u);
  CAF_CHECK_EQUAL(bus->assignment("payment", "a").size(), before.size());
  CAF_CHECK(!bus->commit("payment", "a", g2, before.front(), 1));
  CAF_CHECK_NOT_EQUAL(g1, g2);
  bus->reconnect("payment", "a", {"order.created"});
  CAF_CHECK_EQUAL(bus->generation("payment", "a"), bus->generation("payment"));
  CAF_CHECK_EQUAL(bus->members("payment").size(), 2u);
}

CAF_TEST(a broker that is down takes nothing and gives nothing) {
  bus->produce("order.created", "order-1", "a");
  topic_partition tp{"order.created", partition_for("order-1", 3)};
  auto gen = bus->join("payment", "a", {"order.created"});
  bus->set_down(true);
  CAF_CHECK_EQUAL(bus->produce("order.created", "order-1", "b").partition, -1);
  CAF_CHECK(bus->fetch(tp, 0, 10).empty());
  CAF_CHECK(!bus->commit("payment", "a", gen, tp, 1));
  bus->set_down(false);
  CAF_CHECK_EQUAL(bus->fetch(tp, 0, 10).size(), 1u);
  CAF_CHECK(bus->commit("payment", "a", gen, tp, 1));
}

CAF_TEST(the consumer delivers everything and commits what is done) {
  for (int i = 0; i < 12; ++i)
    bus->produce("order.created", "order-" + std::to_string(i),
                 "ev-" + std::to_string(i));
  auto c = start("a");
  run_for(200ms);
  CAF_CHECK_EQUAL(h->events.size(), 12u);
  CAF_CHECK_EQUAL(committed_total(), 12);
  caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(after a crash the successor reads the uncommitted work again) {
  for (int i = 0; i < 6; ++i)
    bus->produce("order.created", "order-" + std::to_string(i),
                 "ev-" + std::to_string(i));
  h->silent.insert("ev-3"); // its handler never answers: never committed
  auto a = start("a");
  run_for(200ms);
  CAF_CHECK_EQUAL(h->events.size(), 6u);
  CAF_CHECK_EQUAL(committed_total(), 5);
  // The node dies; its session times out; another member takes over.
  caf::anon_send_exit(a, caf::exit_reason::kill);
  sched.run();
  bus->leave("payment", "a");
  h->silent.clear();
  auto b = start("b");
  run_for(200ms);
  CAF_CHECK_EQUAL(h->events.size(), 7u);
  CAF_CHECK_EQUAL(h->events.back(), "ev-3");
  CAF_CHECK_EQUAL(committed_total(), 6);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(a rebalance hands partitions over without losing a message) {
  for (int i = 0; i < 30; ++i)
    bus->produce("order.created", "order-" + std::to_string(i),
                 "ev-" + std::to_string(i));
  auto a = start("a");
  run_for(10ms);
  auto b = start("b");
  run_for(300ms);
  std::set<std::string> distinct(h->events.begin(), h->events.end());
  CAF_CHECK_EQUAL(distinct.size(), 30u);
  CAF_CHECK_EQUAL(committed_total(), 30);
  CAF_CHECK(!bus->assignment("payment", "a").empty());
  CAF_CHECK(!bus->assignment("payment", "b").empty());
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST_FIXTURE_SCOPE_END()

// The in-memory event bus of troupe-node calls one bus from the consumers'
// and the relay's threads: once shared, no record is lost or misplaced.
CAF_TEST(a shared bus keeps every record when several threads use it) {
  sim::kafka bus;
  bus.create_topic("t", 3);
  bus.shared();
  std::atomic<int64_t> wakes{0};
  bus.join("g", "m", {"t"});
  bus.watch("g", "m", [&wakes] {
    ++wakes;
    return true;
  });
  constexpr int producers = 4;
  constexpr int each = 20000;
  std::atomic<bool> go{false};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&bus, &go, p] {
      while (!go)
        std::this_thread::yield(); // all at once
      for (int i = 0; i < each; ++i)
        bus.produce("t", "k" + std::to_string(p) + "-" + std::to_string(i),
                    std::to_string(i));
    });
  // A consumer fetches and commits meanwhile.
  std::thread reader{[&] {
    auto gen = bus.generation("g");
    while (!done) {
      for (int32_t part = 0; part < 3; ++part) {
        topic_partition tp{"t", part};
        auto next = bus.committed("g", tp);
        auto got = bus.fetch(tp, next, 100);
        if (!got.empty())
          bus.commit("g", "m", gen, tp, got.back().offset + 1);
      }
    }
  }};
  go = true;
  for (auto& t : threads)
    t.join();
  done = true;
  reader.join();
  int64_t total = 0;
  for (int32_t part = 0; part < 3; ++part) {
    topic_partition tp{"t", part};
    auto records = bus.fetch(tp, 0, producers * each);
    size_t misplaced = 0;
    for (size_t i = 0; i < records.size(); ++i)
      if (records[i].offset != static_cast<int64_t>(i)
          || partition_for(records[i].key, 3) != part)
        ++misplaced;
    CAF_CHECK_EQUAL(misplaced, 0u);
    CAF_CHECK_EQUAL(bus.end_offset(tp), static_cast<int64_t>(records.size()));
    total += static_cast<int64_t>(records.size());
  }
  CAF_CHECK_EQUAL(total, producers * each);
  CAF_CHECK_EQUAL(wakes.load(), producers * each);
}
