// The Prometheus text of /metrics as scrapers read it: the series the
// modules' probes count, by label; bucket bounds in their shortest form; the
// build info; the process metrics read at scrape time.
#define CAF_SUITE metrics
#include "observability/metrics.hpp"

#include <charconv>
#include <chrono>
#include <regex>
#include <string>

#include <caf/test/unit_test.hpp>

#include "actors/saga_probe.hpp"
#include "adapters/http/http_probe.hpp"
#include "adapters/kafka/consumer_probe.hpp"
#include "adapters/postgres/retention.hpp"
#include "runtime/delivery_probe.hpp"
#include "tests/unit/metrics_text.hpp"

using namespace troupe;
using test::sample;

namespace {

/// The value of a series, 0 when it does not exist yet: counters are
/// compared before and after, since other suites count into them too.
double now_at(const std::string& name, const test::label_set& labels = {}) {
  return sample(metrics::render(), name, labels).value_or(0);
}

std::string shortest(double x) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof(buf), x);
  return std::string(buf, res.ptr);
}

} // namespace

CAF_TEST(the text has a help and a type line per family) {
  saga_probe saga;
  saga.created();
  auto text = metrics::render();
  CAF_CHECK(text.find("# HELP troupe_orders_created_total Orders created, over "
                      "HTTP or from the intake topic\n# TYPE "
                      "troupe_orders_created_total counter\n")
            != std::string::npos);
  CAF_CHECK(text.find("# TYPE troupe_order_duration_seconds histogram\n")
            != std::string::npos);
  CAF_CHECK(text.find("# TYPE troupe_live_orchestrators gauge\n")
            != std::string::npos);
  CAF_CHECK_EQUAL(std::string{metrics::content_type},
                  "text/plain; version=0.0.4; charset=utf-8");
}

CAF_TEST(counters count by label) {
  saga_probe saga;
  test::label_set timeout{{"status", "CANCELLED"}, {"reason", "timeout"}};
  test::label_set confirmed{{"status", "CONFIRMED"}, {"reason", "none"}};
  auto created = now_at("troupe_orders_created_total");
  auto timeouts = now_at("troupe_orders_finalized_total", timeout);
  auto confirms = now_at("troupe_orders_finalized_total", confirmed);
  saga.created();
  saga.created();
  saga.finalized(order_status::cancelled, cancel_reason::timeout);
  saga.finalized(order_status::cancelled, cancel_reason::timeout);
  saga_probe{}.finalized(order_status::confirmed, cancel_reason::none);
  auto text = metrics::render();
  CAF_CHECK_EQUAL(sample(text, "troupe_orders_created_total").value_or(-1),
                  created + 2);
  CAF_CHECK_EQUAL(
    sample(text, "troupe_orders_finalized_total", timeout).value_or(-1),
    timeouts + 2);
  CAF_CHECK_EQUAL(
    sample(text, "troupe_orders_finalized_total", confirmed).value_or(-1),
    confirms + 1);
  // The last reason of the vocabulary has its own series too.
  test::label_set by_customer{{"status", "CANCELLED"},
                              {"reason", "customer_cancelled"}};
  auto customers = now_at("troupe_orders_finalized_total", by_customer);
  saga.finalized(order_status::cancelled, cancel_reason::customer_cancelled);
  CAF_CHECK_EQUAL(sample(metrics::render(), "troupe_orders_finalized_total",
                         by_customer)
                    .value_or(-1),
                  customers + 1);
  saga.live_orchestrators(7);
  CAF_CHECK_EQUAL(now_at("troupe_live_orchestrators"), 7);
  saga.live_orchestrators(0);
  CAF_CHECK_EQUAL(now_at("troupe_live_orchestrators"), 0);
}

CAF_TEST(each module counts under its own names and labels) {
  delivery_probe delivery{"unit-metrics"};
  test::label_set dl{{"group", "unit-metrics"}, {"topic", "t.one"}};
  delivery.retried("t.one");
  delivery.retried("t.one");
  delivery.dead_lettered("t.one");
  delivery.dead_letter_direct("t.one");
  delivery.dead_letter_dropped("t.one");
  http_probe http;
  auto read_cuts = now_at("troupe_http_connections_closed_total",
                          {{"reason", "read_timeout"}});
  http.connections_closed(connection_cut::read_timeout, 3);
  http.request("GET", "/unit-metrics", 404, 0.002);
  http.unauthorized("/unit-metrics");
  http.outbox_backlog(12, 1.5);
  retention_probe retention;
  auto outbox_rows = now_at("troupe_retention_deleted_rows_total",
                            {{"table", "outbox"}});
  retention.deleted(retention_table::outbox, 25);
  auto text = metrics::render();
  CAF_CHECK_EQUAL(sample(text, "troupe_events_retried_total", dl).value_or(-1),
                  2);
  CAF_CHECK_EQUAL(
    sample(text, "troupe_events_dead_lettered_total", dl).value_or(-1), 1);
  CAF_CHECK_EQUAL(
    sample(text, "troupe_dead_letters_direct_total", dl).value_or(-1), 1);
  CAF_CHECK_EQUAL(
    sample(text, "troupe_dead_letters_dropped_total", dl).value_or(-1), 1);
  CAF_CHECK_EQUAL(sample(text, "troupe_http_connections_closed_total",
                         {{"reason", "read_timeout"}})
                    .value_or(-1),
                  read_cuts + 3);
  CAF_CHECK_EQUAL(
    sample(text, "troupe_http_requests_total",
           {{"method", "GET"}, {"route", "/unit-metrics"}, {"code", "404"}})
      .value_or(-1),
    1);
  CAF_CHECK_EQUAL(
    sample(text, "troupe_http_request_duration_seconds_bucket",
           {{"method", "GET"}, {"route", "/unit-metrics"}, {"le", "0.005"}})
      .value_or(-1),
    1);
  CAF_CHECK_EQUAL(sample(text, "troupe_http_unauthorized_total",
                         {{"route", "/unit-metrics"}})
                    .value_or(-1),
                  1);
  CAF_CHECK_EQUAL(sample(text, "troupe_outbox_backlog").value_or(-1), 12);
  CAF_CHECK_EQUAL(sample(text, "troupe_outbox_oldest_age_seconds").value_or(-1),
                  1.5);
  CAF_CHECK_EQUAL(sample(text, "troupe_retention_deleted_rows_total",
                         {{"table", "outbox"}})
                    .value_or(-1),
                  outbox_rows + 25);
}

CAF_TEST(a revoked partition loses its lag series) {
  consumer_probe consumer{"unit-metrics"};
  test::label_set p0{
    {"group", "unit-metrics"}, {"topic", "t.lag"}, {"partition", "0"}};
  test::label_set p1{
    {"group", "unit-metrics"}, {"topic", "t.lag"}, {"partition", "1"}};
  consumer.consumed("t.lag");
  consumer.consumed("t.lag");
  consumer.lag("t.lag", 0, 5);
  consumer.lag("t.lag", 1, 9);
  consumer.lag("t.lag", 0, 4);
  auto text = metrics::render();
  CAF_CHECK_EQUAL(sample(text, "troupe_events_consumed_total",
                         {{"group", "unit-metrics"}, {"topic", "t.lag"}})
                    .value_or(-1),
                  2);
  CAF_CHECK_EQUAL(sample(text, "troupe_consumer_lag", p0).value_or(-1), 4);
  CAF_CHECK_EQUAL(sample(text, "troupe_consumer_lag", p1).value_or(-1), 9);
  consumer.forget_lag("t.lag", 0);
  consumer.forget_lag("t.lag", 7); // never reported: nothing to drop
  text = metrics::render();
  CAF_CHECK(!sample(text, "troupe_consumer_lag", p0));
  CAF_CHECK_EQUAL(sample(text, "troupe_consumer_lag", p1).value_or(-1), 9);
  // A partition assigned again gets its series back.
  consumer.lag("t.lag", 0, 0);
  CAF_CHECK_EQUAL(now_at("troupe_consumer_lag", p0), 0);
  consumer.forget_lag("t.lag", 0);
  consumer.forget_lag("t.lag", 1);
  CAF_CHECK(!sample(metrics::render(), "troupe_consumer_lag", p1));
}

CAF_TEST(bucket bounds are written in their shortest form) {
  saga_probe saga;
  auto within = now_at("troupe_order_duration_seconds_bucket", {{"le", "0.1"}});
  auto below = now_at("troupe_order_duration_seconds_bucket", {{"le", "0.05"}});
  auto all = now_at("troupe_order_duration_seconds_bucket", {{"le", "+Inf"}});
  auto count = now_at("troupe_order_duration_seconds_count");
  saga.duration(0.07);
  auto text = metrics::render();
  CAF_CHECK(text.find("troupe_order_duration_seconds_bucket{le=\"0.1\"} ")
            != std::string::npos);
  CAF_CHECK(text.find("0.10000000000000001") == std::string::npos);
  CAF_CHECK_EQUAL(sample(text, "troupe_order_duration_seconds_bucket",
                         {{"le", "0.1"}})
                    .value_or(-1),
                  within + 1);
  CAF_CHECK_EQUAL(sample(text, "troupe_order_duration_seconds_bucket",
                         {{"le", "0.05"}})
                    .value_or(-1),
                  below);
  CAF_CHECK_EQUAL(sample(text, "troupe_order_duration_seconds_bucket",
                         {{"le", "+Inf"}})
                    .value_or(-1),
                  all + 1);
  CAF_CHECK_EQUAL(
    sample(text, "troupe_order_duration_seconds_count").value_or(-1),
    count + 1);
  // Every bound appears as the shortest text that reads back as it.
  std::string missing;
  for (auto bound : metrics::duration_buckets())
    if (text.find("troupe_order_duration_seconds_bucket{le=\"" + shortest(bound)
                  + "\"}")
        == std::string::npos)
      missing += " le=\"" + shortest(bound) + "\"";
  CAF_CHECK_EQUAL(missing, "");
  // No `le` anywhere in the text has more than 6 significant digits.
  std::string long_bounds;
  static const std::regex le{R"re(le="([^"]*)")re"};
  for (auto i = std::sregex_iterator(text.begin(), text.end(), le);
       i != std::sregex_iterator(); ++i) {
    auto value = (*i)[1].str();
    size_t digits = 0;
    bool leading = true;
    for (char c : value) {
      if (c < '0' || c > '9')
        continue;
      if (c != '0')
        leading = false;
      if (!leading)
        ++digits;
    }
    if (digits > 6)
      long_bounds += " le=\"" + value + "\"";
  }
  CAF_CHECK_EQUAL(long_bounds, "");
}

CAF_TEST(the build is described) {
  auto text = metrics::render();
  CAF_CHECK(text.find("# TYPE troupe_build_info gauge\n") != std::string::npos);
  static const std::regex info{R"re(\ntroupe_build_info\{([^}]*)\} 1\n)re"};
  std::smatch m;
  CAF_REQUIRE(std::regex_search(text, m, info));
  auto labels = test::labels_of(m[1]);
  CAF_CHECK_EQUAL(labels["version"], TROUPE_VERSION);
  CAF_CHECK(!labels["commit"].empty());
  CAF_CHECK(!labels["compiler"].empty());
}

CAF_TEST(the process is described at scrape time) {
  auto text = metrics::render();
  std::string missing;
  for (auto [name, type] : {std::pair{"process_resident_memory_bytes", "gauge"},
                            std::pair{"process_virtual_memory_bytes", "gauge"},
                            std::pair{"process_cpu_seconds_total", "counter"},
                            std::pair{"process_open_fds", "gauge"},
                            std::pair{"process_max_fds", "gauge"},
                            std::pair{"process_start_time_seconds", "gauge"}})
    if (text.find(std::string{"# TYPE "} + name + " " + type + "\n")
        == std::string::npos)
      missing += std::string{" "} + name + " (" + type + ")";
  CAF_CHECK_EQUAL(missing, "");
  auto rss = sample(text, "process_resident_memory_bytes").value_or(0);
  CAF_CHECK_GREATER(rss, 1 << 20);
  CAF_CHECK_GREATER_OR_EQUAL(
    sample(text, "process_virtual_memory_bytes").value_or(0), rss);
  // stdin, stdout and stderr at least.
  auto fds = sample(text, "process_open_fds").value_or(0);
  CAF_CHECK_GREATER_OR_EQUAL(fds, 3);
  CAF_CHECK_GREATER_OR_EQUAL(sample(text, "process_max_fds").value_or(0), fds);
  auto now = std::chrono::duration<double>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  auto started = sample(text, "process_start_time_seconds").value_or(0);
  CAF_CHECK_LESS_OR_EQUAL(started, now);
  CAF_CHECK_GREATER(started, now - 24 * 3600);
  // Read at scrape time: CPU spent now shows in the next scrape.
  auto cpu = sample(text, "process_cpu_seconds_total").value_or(-1);
  CAF_CHECK_GREATER_OR_EQUAL(cpu, 0);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  volatile uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until)
    spin = spin + 1;
  CAF_CHECK_GREATER(now_at("process_cpu_seconds_total"), cpu);
  // A file opened shows in the next scrape.
  auto* f = std::fopen("/proc/self/stat", "r");
  CAF_REQUIRE(f != nullptr);
  CAF_CHECK_EQUAL(now_at("process_open_fds"), fds + 1);
  std::fclose(f);
}
