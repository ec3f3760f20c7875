// troupe-load: load generator and benchmark client for a Troupe node.
//
// Posts orders with a mix that hits every business rule, waits until each is
// final, and prints orders/s and latency percentiles: POST alone, and from
// POST to the final status. With --rate, start times are scheduled and
// latency counts from the scheduled start (no coordinated omission); the
// latency from the POST that was accepted to the final status is reported
// too (accepted_final_latency_ms), which leaves out the time a client spent
// behind the schedule or retrying 503s.
//
// With --via=kafka the orders are produced to the intake topic instead,
// keyed by their reference; "POST" is then the time until the broker
// acknowledged the message, and each order is found by its reference
// (GET /orders?ref=...) and followed to its final status as over HTTP.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cli/cli.hpp"

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

struct order_slot {
  std::string id;
  std::string ref;  ///< the order's reference (Idempotency-Key, message key)
  std::string kind; ///< ok, declined, limit, both, lines, lines_declined,
                    ///< lines_limit
  size_t lines = 0; ///< lines posted
  /// Every line's reservation state agrees with the final status (CONFIRMED:
  /// every line RESERVED; out_of_stock: a line SHORT).
  bool lines_ok = true;
  clock_type::time_point start;
  /// When the accepted POST was sent (at or after start: later when the
  /// client was behind the schedule of --rate, or retried a 503).
  clock_type::time_point sent;
  double post_ms = -1;
  double final_ms = -1;
  double accepted_final_ms = -1; ///< from sent to final
  clock_type::time_point
    next_poll; ///< pollers leave the order alone until then
  std::string status;
  std::string reason;
  bool failed = false;
  bool shed = false; ///< refused with 503 at least once before accepted
};

struct mix_entry {
  std::string kind;
  int weight;
};

const std::string kinds[] = {"ok",    "declined",       "limit",      "both",
                             "lines", "lines_declined", "lines_limit"};

std::vector<mix_entry> parse_mix(const std::string& text) {
  std::vector<mix_entry> result;
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, ',')) {
    auto colon = item.find(':');
    if (colon == std::string::npos)
      throw std::invalid_argument("mix entry '" + item + "' needs kind:weight");
    auto kind = item.substr(0, colon);
    if (std::find(std::begin(kinds), std::end(kinds), kind) == std::end(kinds))
      throw std::invalid_argument("unknown mix kind '" + kind
                                  + "' (ok, declined, limit, both, lines, "
                                    "lines_declined, lines_limit)");
    result.push_back({kind, std::stoi(item.substr(colon + 1))});
  }
  if (result.empty())
    throw std::invalid_argument("empty mix");
  return result;
}

const char* skus[] = {"SKU-CHAIR-01", "SKU-DESK-01", "SKU-LAMP-01",
                      "SKU-SHELF-01"};

/// A multi-line order: 2 to 4 distinct SKUs of 1 to 3 units each, in all at
/// most 100000 cents; `lines_declined` costs more, `lines_limit` has a
/// (cheap) line of 11 to 20.
json make_lines_body(const std::string& kind, std::mt19937_64& rng, size_t i) {
  std::uniform_int_distribution<int> count(2, 4), first(0, 3), qty(1, 3),
    price(100, 8000), big_qty(11, 20);
  auto n = count(rng);
  auto at = first(rng);
  auto items = json::array();
  for (int k = 0; k < n; ++k)
    items.push_back({{"sku", skus[(at + k) % 4]},
                     {"quantity", qty(rng)},
                     {"unit_price_cents", price(rng)}});
  if (kind == "lines_declined")
    items[0]["unit_price_cents"] = 100001;
  if (kind == "lines_limit") {
    // Cheap, so that the total stays within what payment approves.
    items[n - 1]["quantity"] = big_qty(rng);
    items[n - 1]["unit_price_cents"] = 100;
  }
  return json{{"customer_email", "load" + std::to_string(i) + "@example.com"},
              {"items", items}};
}

json make_body(const std::string& kind, std::mt19937_64& rng, size_t i) {
  if (kind.rfind("lines", 0) == 0)
    return make_lines_body(kind, rng, i);
  std::uniform_int_distribution<int> sku(0, 3), qty(1, 3), amount(1000, 50000),
    big_qty(11, 20);
  json body{{"customer_email", "load" + std::to_string(i) + "@example.com"},
            {"item_sku", skus[sku(rng)]},
            {"quantity", qty(rng)},
            {"amount_cents", amount(rng)}};
  if (kind == "declined" || kind == "both")
    body["amount_cents"] = 150000;
  if (kind == "limit" || kind == "both")
    body["quantity"] = big_qty(rng);
  return body;
}

/// Whether an outcome is one the rules allow for this kind of order.
bool expected(const order_slot& s) {
  if (!s.lines_ok)
    return false;
  if (s.kind == "declined" || s.kind == "both" || s.kind == "lines_declined")
    return s.status == "CANCELLED" && s.reason == "payment_declined";
  if (s.kind == "limit" || s.kind == "lines_limit")
    return s.status == "CANCELLED" && s.reason == "quantity_limit";
  return s.status == "CONFIRMED"
         || (s.status == "CANCELLED" && s.reason == "out_of_stock");
}

/// How many of an order's `items` are in reservation state `state`.
size_t lines_in(const json& order, const char* state) {
  size_t n = 0;
  if (order.contains("items") && order["items"].is_array())
    for (auto& line : order["items"])
      n += line.value("reservation", json()) == state;
  return n;
}

/// Every line of a final order, as GET /orders shows it, agrees with its
/// status: a CONFIRMED order holds every line it was posted with, reserved;
/// an out_of_stock order names a line that was short.
bool lines_agree(const order_slot& s, const json& order) {
  auto items = order.find("items");
  if (items == order.end() || !items->is_array() || items->size() != s.lines)
    return false;
  if (s.status == "CONFIRMED")
    return lines_in(order, "RESERVED") == s.lines;
  if (s.reason == "out_of_stock")
    return lines_in(order, "SHORT") > 0;
  return true;
}

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t)
    .count();
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto idx = static_cast<size_t>(std::ceil(p / 100.0 * xs.size())) - 1;
  return xs[std::min(idx, xs.size() - 1)];
}

json summary_of(const std::vector<double>& xs) {
  auto r = [](double x) { return std::round(x * 10) / 10; };
  return json{{"p50", r(percentile(xs, 50))},
              {"p90", r(percentile(xs, 90))},
              {"p99", r(percentile(xs, 99))},
              {"max", r(percentile(xs, 100))}};
}

void write_svg(const std::string& path, const std::vector<double>& xs) {
  const int width = 800, height = 400, left = 60, bottom = 40, bins = 40;
  double maxv = percentile(xs, 99.9) * 1.05;
  if (maxv <= 0)
    maxv = 1;
  std::vector<int> counts(bins, 0);
  for (auto x : xs)
    counts[std::min(bins - 1, static_cast<int>(x / maxv * bins))]++;
  int peak = std::max(1, *std::max_element(counts.begin(), counts.end()));
  std::ofstream out{path};
  out << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width
      << "' height='" << height << "' font-family='sans-serif' font-size='12'>"
      << "<rect width='100%' height='100%' fill='white'/>"
      << "<text x='" << width / 2 << "' y='20' text-anchor='middle' "
      << "font-size='14'>POST to final status latency (" << xs.size()
      << " orders)</text>";
  double plot_w = width - left - 20, plot_h = height - bottom - 40;
  for (int i = 0; i < bins; ++i) {
    double h = plot_h * counts[i] / peak;
    out << "<rect x='" << left + i * plot_w / bins << "' y='" << 30 + plot_h - h
        << "' width='" << plot_w / bins - 1 << "' height='" << h
        << "' fill='#4a7bd0'/>";
  }
  for (int t = 0; t <= 4; ++t) {
    double v = maxv * t / 4;
    out << "<text x='" << left + plot_w * t / 4 << "' y='" << height - 20
        << "' text-anchor='middle'>" << static_cast<int>(v) << " ms</text>";
  }
  for (auto [label, p] : {std::pair{"p50", 50.0}, std::pair{"p99", 99.0}}) {
    double v = percentile(xs, p);
    double x = left + plot_w * std::min(1.0, v / maxv);
    out << "<line x1='" << x << "' x2='" << x << "' y1='30' y2='" << 30 + plot_h
        << "' stroke='#d04a4a' stroke-dasharray='4'/>"
        << "<text x='" << x + 4 << "' y='44' fill='#d04a4a'>" << label << " "
        << std::round(v * 10) / 10 << " ms</text>";
  }
  out << "<text x='15' y='" << 30 + plot_h / 2 << "' transform='rotate(-90 15,"
      << 30 + plot_h / 2 << ")' text-anchor='middle'>orders</text></svg>\n";
}

/// Produces every order to the intake topic, at `rate` per second when set;
/// a slot's `post_ms` is the time until the broker acknowledged it.
/// Returns an error text, or "" when every message was acknowledged.
std::string produce_orders(const std::string& brokers, const std::string& topic,
                           std::vector<order_slot>& slots,
                           const std::vector<std::string>& bodies, double rate,
                           clock_type::time_point t0,
                           std::atomic<size_t>& posted,
                           std::atomic<size_t>& errors) {
  char err[512];
  auto conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err,
                        sizeof(err))
        != RD_KAFKA_CONF_OK
      || rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err))
           != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return err;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m,
                                       void*) {
    auto* s = static_cast<order_slot*>(m->_private);
    if (m->err) {
      s->failed = true;
    } else {
      s->post_ms = ms_since(s->start);
    }
  });
  auto rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return err;
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    auto& s = slots[i];
    if (rate > 0) {
      s.start
        = t0 + std::chrono::microseconds(static_cast<int64_t>(i * 1e6 / rate));
      while (clock_type::now() < s.start)
        rd_kafka_poll(rk, 1);
    } else {
      s.start = clock_type::now();
    }
    for (;;) {
      auto rc = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_KEY(s.ref.data(), s.ref.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(bodies[i].data()), bodies[i].size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&s),
        RD_KAFKA_V_END);
      if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        s.failed = rc != RD_KAFKA_RESP_ERR_NO_ERROR;
        break;
      }
      rd_kafka_poll(rk, 10);
    }
    ++posted;
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 30000);
  rd_kafka_destroy(rk);
  for (auto& s : slots)
    if (s.failed)
      ++errors;
  return "";
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"troupe-load: posts orders to a Troupe node, waits until each "
               "is final, and reports throughput and latency"};
  std::string url = "http://127.0.0.1:8080";
  size_t orders = 1000;
  int concurrency = 16;
  double rate = 0;
  double timeout_s = 120;
  bool as_json = false;
  bool no_wait = false;
  std::string svg;
  std::string mix_text
    = "ok:75,declined:6,limit:4,both:3,lines:8,lines_declined:2,lines_limit:2";
  std::string via = "http";
  std::string brokers;
  std::string bootstrap_file;
  std::string intake_topic = "orders.requested";
  app.add_option("--url", url, "base URL of a node (several: comma-separated)");
  app.add_option("--orders", orders, "orders to post")
    ->check(CLI::PositiveNumber);
  app.add_option("--concurrency", concurrency, "parallel HTTP clients")
    ->check(CLI::Range(1, 4096));
  app.add_option("--rate", rate,
                 "orders/s to schedule (0: as fast as possible); latency then "
                 "counts from each order's scheduled start");
  app.add_option("--timeout", timeout_s, "seconds to wait for final statuses");
  app.add_option("--mix", mix_text,
                 "order mix, kind:weight,... of ok, declined, limit, both, "
                 "lines, lines_declined, lines_limit (lines: several SKUs)");
  app.add_flag("--json", as_json, "print the summary as JSON");
  app.add_option("--svg", svg, "write the latency histogram to this SVG file");
  app.add_flag("--no-wait", no_wait, "do not wait for final statuses");
  app
    .add_option("--via", via,
                "how orders enter: http (POST /orders) or kafka (produced "
                "to the intake topic)")
    ->check(CLI::IsMember({"http", "kafka"}));
  app.add_option("--brokers", brokers,
                 "Kafka bootstrap servers, host:port[,...] (--via=kafka)");
  app.add_option("--bootstrap-file", bootstrap_file,
                 "read the bootstrap servers from this file (troupe-broker)");
  app.add_option("--topic", intake_topic, "the intake topic (--via=kafka)");
  if (auto exit_code = troupe::cli::parse(app, "troupe-load", argc, argv))
    return *exit_code;

  std::vector<mix_entry> mix;
  try {
    mix = parse_mix(mix_text);
  } catch (const std::exception& e) {
    return troupe::cli::usage_error("troupe-load",
                                    std::string{"--mix: "} + e.what());
  }
  std::vector<std::string> urls;
  {
    std::stringstream in{url};
    std::string u;
    while (std::getline(in, u, ','))
      if (!u.empty())
        urls.push_back(u);
  }
  if (urls.empty()) {
    return troupe::cli::usage_error("troupe-load", "--url is empty");
  }
  if (!bootstrap_file.empty()) {
    std::ifstream in{bootstrap_file};
    std::getline(in, brokers);
    if (brokers.empty())
      return troupe::cli::usage_error("troupe-load",
                                      "--bootstrap-file: " + bootstrap_file
                                        + " holds no servers");
  }
  if (via == "kafka" && brokers.empty())
    return troupe::cli::usage_error(
      "troupe-load", "--via=kafka needs --brokers or --bootstrap-file");
  {
    httplib::Client probe{urls.front()};
    probe.set_connection_timeout(2);
    if (!probe.Get("/health")) {
      std::cerr << "troupe-load: cannot reach " << urls.front() << std::endl;
      return 1;
    }
  }

  // Assign kinds by weight, deterministically spread.
  int total_weight = 0;
  for (auto& m : mix)
    total_weight += m.weight;
  std::vector<order_slot> slots(orders);
  {
    std::mt19937_64 rng{42};
    std::uniform_int_distribution<int> pick(0, std::max(0, total_weight - 1));
    for (auto& s : slots) {
      int w = pick(rng);
      for (auto& m : mix) {
        if (w < m.weight) {
          s.kind = m.kind;
          break;
        }
        w -= m.weight;
      }
    }
  }

  bool tty = isatty(STDERR_FILENO);
  std::atomic<size_t> next{0}, posted{0}, finals{0}, post_errors{0};
  std::atomic<size_t> shed{0}, retried{0}; ///< 503 answers, orders they hit
  auto run_id = std::to_string(
    std::chrono::system_clock::now().time_since_epoch().count());
  for (size_t i = 0; i < orders; ++i)
    slots[i].ref = "load-" + run_id + "-" + std::to_string(i);
  auto t0 = clock_type::now();
  std::atomic<bool> posting_done{false};

  auto poster = [&](int worker) {
    httplib::Client cli{urls[worker % urls.size()]};
    cli.set_tcp_nodelay(true);
    cli.set_keep_alive(true);
    cli.set_connection_timeout(5);
    cli.set_read_timeout(30);
    std::mt19937_64 rng{static_cast<uint64_t>(worker) * 7919 + 1};
    for (;;) {
      auto i = next++;
      if (i >= orders)
        break;
      auto& s = slots[i];
      auto doc = make_body(s.kind, rng, i);
      s.lines = doc.contains("items") ? doc["items"].size() : 1;
      auto body = doc.dump();
      if (rate > 0) {
        s.start
          = t0
            + std::chrono::microseconds(static_cast<int64_t>(i * 1e6 / rate));
        std::this_thread::sleep_until(s.start);
      } else {
        s.start = clock_type::now();
      }
      httplib::Headers hdrs{{"Idempotency-Key", s.ref},
                            {"X-Correlation-ID", s.ref}};
      for (int attempt = 0;; ++attempt) {
        auto sent = clock_type::now();
        auto res = cli.Post("/orders", hdrs, body, "application/json");
        if (res && (res->status == 201 || res->status == 200)) {
          s.sent = sent;
          s.post_ms = ms_since(s.start);
          s.id = json::parse(res->body).value("id", "");
          break;
        }
        // 503: shed by admission control (or a node draining): back off
        // and retry until --timeout; the order's latency then counts from
        // the attempt that is accepted.
        bool shed_now = res && res->status == 503;
        if (!shed_now || ms_since(t0) > timeout_s * 1000) {
          s.failed = true;
          ++post_errors;
          break;
        }
        ++shed;
        if (!s.shed) {
          s.shed = true;
          ++retried;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(
          std::uniform_int_distribution<int>(50, 150)(rng)));
        s.start = clock_type::now();
      }
      ++posted;
    }
  };

  // Pollers fetch the orders that are not final yet in batches
  // (GET /orders?ids=...), young ones often and old ones less, so that
  // waiting for final statuses does not become the load.
  auto poller = [&](int worker, int workers) {
    httplib::Client cli{urls[worker % urls.size()]};
    cli.set_tcp_nodelay(true);
    cli.set_keep_alive(true);
    cli.set_read_timeout(10);
    std::vector<size_t> batch;
    // A produced order is found by its reference first.
    auto resolve = [&](order_slot& s) {
      auto res = cli.Get(("/orders?ref=" + s.ref).c_str());
      if (!res || res->status != 200)
        return;
      auto arr = json::parse(res->body, nullptr, false);
      if (arr.is_array() && !arr.empty())
        s.id = arr[0].value("id", "");
    };
    auto flush = [&] {
      if (batch.empty())
        return;
      std::string ids;
      std::map<std::string, size_t> index;
      for (auto i : batch) {
        if (!ids.empty())
          ids += ',';
        ids += slots[i].id;
        index[slots[i].id] = i;
      }
      batch.clear();
      auto res = cli.Get(("/orders?ids=" + ids).c_str());
      if (!res || res->status != 200)
        return;
      auto arr = json::parse(res->body, nullptr, false);
      if (!arr.is_array())
        return;
      for (auto& j : arr) {
        auto status = j.value("status", "");
        if (status != "CONFIRMED" && status != "CANCELLED")
          continue;
        auto& s = slots[index[j.value("id", "")]];
        if (s.final_ms >= 0)
          continue;
        s.final_ms = ms_since(s.start);
        s.accepted_final_ms
          = ms_since(s.sent == clock_type::time_point{} ? s.start : s.sent);
        s.status = status;
        s.reason = j["reason"].is_string() ? j["reason"].get<std::string>()
                                           : "";
        s.lines_ok = lines_agree(s, j);
        ++finals;
      }
    };
    while (!no_wait) {
      bool pending = false;
      for (size_t i = worker; i < orders; i += workers) {
        auto& s = slots[i];
        if (s.failed || s.final_ms >= 0)
          continue;
        pending = true;
        if (s.id.empty() && (via == "http" || s.post_ms < 0))
          continue;
        auto now = clock_type::now();
        if (now < s.next_poll)
          continue;
        auto age = std::chrono::duration_cast<std::chrono::milliseconds>(
          now - s.start);
        s.next_poll = now
                      + std::clamp(age / 5, std::chrono::milliseconds(5),
                                   std::chrono::milliseconds(250));
        if (s.id.empty()) {
          resolve(s);
          if (s.id.empty())
            continue;
        }
        batch.push_back(i);
        if (batch.size() >= 100)
          flush();
      }
      flush();
      if (!pending && posting_done)
        break;
      if (ms_since(t0) > timeout_s * 1000)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };

  std::vector<std::thread> threads;
  if (via == "kafka") {
    // The bodies are made up front: the producer only paces and sends.
    std::vector<std::string> bodies;
    std::mt19937_64 rng{7919};
    for (size_t i = 0; i < orders; ++i) {
      auto doc = make_body(slots[i].kind, rng, i);
      slots[i].lines = doc.contains("items") ? doc["items"].size() : 1;
      bodies.push_back(doc.dump());
    }
    threads.emplace_back([&, bodies = std::move(bodies)]() mutable {
      auto err = produce_orders(brokers, intake_topic, slots, bodies, rate, t0,
                                posted, post_errors);
      if (!err.empty()) {
        std::cerr << "troupe-load: kafka: " << err << std::endl;
        for (auto& s : slots)
          s.failed = true;
        post_errors = orders;
      }
    });
  } else {
    for (int w = 0; w < concurrency; ++w)
      threads.emplace_back(poster, w);
  }
  int pollers = 2;
  std::vector<std::thread> poll_threads;
  for (int w = 0; w < pollers; ++w)
    poll_threads.emplace_back(poller, w, pollers);

  std::atomic<bool> done{false};
  std::thread progress{[&] {
    while (!done && tty) {
      auto el = ms_since(t0) / 1000.0;
      auto f = no_wait ? posted.load() : finals.load();
      double frac = static_cast<double>(f) / orders;
      double eta = f > 0 ? el / frac - el : 0;
      int filled = static_cast<int>(frac * 30);
      std::fprintf(stderr,
                   "\r[%-30s] posted %zu/%zu final %zu  %.0f/s  ETA %.0fs ",
                   std::string(filled, '#').c_str(), posted.load(), orders,
                   finals.load(), el > 0 ? f / el : 0.0, eta);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }};

  for (auto& t : threads)
    t.join();
  auto post_elapsed = ms_since(t0) / 1000.0;
  posting_done = true;
  for (auto& t : poll_threads)
    t.join();
  auto elapsed = ms_since(t0) / 1000.0;
  done = true;
  progress.join();
  if (tty)
    std::fprintf(stderr, "\n");

  std::vector<double> post_lat, final_lat, accepted_final_lat;
  std::map<std::string, size_t> outcomes;
  size_t mismatches = 0, stuck = 0;
  for (auto& s : slots) {
    if (s.post_ms >= 0)
      post_lat.push_back(s.post_ms);
    if (s.final_ms >= 0) {
      final_lat.push_back(s.final_ms);
      accepted_final_lat.push_back(s.accepted_final_ms);
      outcomes[s.reason.empty() ? s.status : s.status + "/" + s.reason]++;
      if (!expected(s))
        ++mismatches;
    } else if (!s.failed && !no_wait) {
      ++stuck;
    }
  }
  auto post_rate = posted.load() / post_elapsed;
  auto e2e_rate = final_lat.size() / elapsed;
  json summary{{"orders", orders},
               {"via", via},
               {"concurrency", concurrency},
               {"rate", rate},
               {"elapsed_s", std::round(elapsed * 100) / 100},
               {"post_rate", std::round(post_rate * 10) / 10},
               {"e2e_rate", std::round(e2e_rate * 10) / 10},
               {"post_latency_ms", summary_of(post_lat)},
               {"final_latency_ms", summary_of(final_lat)},
               {"accepted_final_latency_ms", summary_of(accepted_final_lat)},
               {"by_outcome", outcomes},
               {"errors", post_errors.load()},
               {"shed", shed.load()},
               {"retried", retried.load()},
               {"mismatches", mismatches},
               {"stuck", stuck}};
  if (!svg.empty())
    write_svg(svg, final_lat);
  if (as_json) {
    std::cout << summary.dump() << std::endl;
  } else {
    auto& pl = summary["post_latency_ms"];
    auto& fl = summary["final_latency_ms"];
    std::printf("orders        %zu via %s (%zu failed), concurrency %d\n",
                orders, via.c_str(), post_errors.load(), concurrency);
    std::printf("elapsed       %.2f s\n", elapsed);
    std::printf("%-13s %.1f orders/s   p50 %.1f  p90 %.1f  p99 %.1f  "
                "max %.1f ms\n",
                via == "kafka" ? "produce" : "POST", post_rate,
                pl["p50"].get<double>(), pl["p90"].get<double>(),
                pl["p99"].get<double>(), pl["max"].get<double>());
    std::printf("end to end    %.1f orders/s   p50 %.1f  p90 %.1f  p99 %.1f  "
                "max %.1f ms\n",
                e2e_rate, fl["p50"].get<double>(), fl["p90"].get<double>(),
                fl["p99"].get<double>(), fl["max"].get<double>());
    auto& al = summary["accepted_final_latency_ms"];
    std::printf("accepted      to final       p50 %.1f  p90 %.1f  p99 %.1f  "
                "max %.1f ms (from the POST that was accepted)\n",
                al["p50"].get<double>(), al["p90"].get<double>(),
                al["p99"].get<double>(), al["max"].get<double>());
    for (auto& [k, v] : outcomes)
      std::printf("  %-30s %zu\n", k.c_str(), v);
    std::printf("shed          %zu answer(s) 503, %zu order(s) retried\n",
                shed.load(), retried.load());
    std::printf("mismatches    %zu\nstuck         %zu\n", mismatches, stuck);
  }
  return (stuck == 0 && post_errors == 0) ? 0 : 1;
}
