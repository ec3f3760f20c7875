// Trace context parsing and the OTLP/HTTP JSON exporter.
#include "observability/tracing.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <prometheus/counter.h>

#include "observability/log.hpp"
#include "observability/metrics.hpp"

namespace troupe::tracing {

namespace {

bool is_hex(std::string_view x) {
  for (char c : x)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

bool all_zero(std::string_view x) {
  return x.find_first_not_of('0') == std::string_view::npos;
}

std::string random_hex(size_t digits) {
  thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64{seq};
  }()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(digits, '0');
  for (;;) {
    for (size_t i = 0; i < digits; i += 16) {
      auto v = gen();
      for (size_t j = i; j < digits && j < i + 16; ++j, v >>= 4)
        out[j] = hex[v & 0xf];
    }
    if (!all_zero(out))
      return out;
  }
}

struct families {
  prometheus::Counter& exported;
  prometheus::Family<prometheus::Counter>& dropped;
  prometheus::Counter& queue_full;
  prometheus::Counter& export_failed;

  explicit families(prometheus::Registry& r)
    : exported(prometheus::BuildCounter()
                 .Name("troupe_trace_spans_exported_total")
                 .Help("Spans the OTLP collector accepted")
                 .Register(r)
                 .Add({})),
      dropped(prometheus::BuildCounter()
                .Name("troupe_trace_spans_dropped_total")
                .Help("Spans not exported, by reason: queue_full (the "
                      "collector is slower than the engine), export_failed "
                      "(the collector is down or refused the batch)")
                .Register(r)),
      queue_full(dropped.Add({{"reason", "queue_full"}})),
      export_failed(dropped.Add({{"reason", "export_failed"}})) {
  }
};

families& probe() {
  static families f{metrics::registry()};
  return f;
}

struct target {
  std::string base; ///< scheme://host:port
  std::string path;
};

std::optional<target> split_endpoint(const std::string& url) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    return std::nullopt;
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  if (authority.empty())
    return std::nullopt;
  target t;
  t.base = scheme + authority;
  t.path = slash == std::string::npos ? "" : rest.substr(slash);
  if (t.path.empty() || t.path == "/")
    t.path = "/v1/traces";
  return t;
}

class exporter {
public:
  explicit exporter(exporter_config cfg) : cfg_(std::move(cfg)) {
    probe();
    target_ = *split_endpoint(cfg_.endpoint);
    thread_ = std::thread([this] { run(); });
  }

  ~exporter() {
    stop();
  }

  void stop() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (stopping_)
        return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }

  void push(span x) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (queue_.size() >= cfg_.queue_capacity) {
        probe().queue_full.Increment();
        return;
      }
      queue_.push_back(std::move(x));
      if (queue_.size() < cfg_.batch_size)
        return;
    }
    cv_.notify_one();
  }

private:
  void run() {
    httplib::Client client{target_.base};
    auto secs = [](std::chrono::milliseconds d) {
      return std::chrono::duration_cast<std::chrono::seconds>(d).count();
    };
    auto usecs = [](std::chrono::milliseconds d) {
      return (d.count() % 1000) * 1000;
    };
    client.set_connection_timeout(secs(cfg_.timeout), usecs(cfg_.timeout));
    client.set_read_timeout(secs(cfg_.timeout), usecs(cfg_.timeout));
    client.set_write_timeout(secs(cfg_.timeout), usecs(cfg_.timeout));
    client.set_keep_alive(true);
    bool last_ok = true;
    for (;;) {
      std::vector<span> batch;
      bool stopping = false;
      {
        std::unique_lock<std::mutex> guard{mtx_};
        cv_.wait_for(guard, cfg_.interval, [this] {
          return stopping_ || queue_.size() >= cfg_.batch_size;
        });
        stopping = stopping_;
        auto n = std::min(queue_.size(), cfg_.batch_size);
        batch.reserve(n);
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      if (!batch.empty()) {
        auto body = encode_otlp(batch, cfg_);
        auto res = client.Post(target_.path.c_str(), body, "application/json");
        bool ok = res && res->status >= 200 && res->status < 300;
        if (ok) {
          probe().exported.Increment(static_cast<double>(batch.size()));
        } else {
          probe().export_failed.Increment(static_cast<double>(batch.size()));
          if (last_ok)
            log::warn("tracing", "exporting {} span(s) to {} failed: {}",
                      batch.size(), cfg_.endpoint,
                      res ? "HTTP " + std::to_string(res->status)
                          : httplib::to_string(res.error()));
        }
        last_ok = ok;
      }
      if (stopping) {
        std::lock_guard<std::mutex> guard{mtx_};
        if (queue_.empty())
          return;
        // Whatever is left after the final batch is not waited for.
        probe().export_failed.Increment(static_cast<double>(queue_.size()));
        queue_.clear();
        return;
      }
    }
  }

  exporter_config cfg_;
  target target_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<span> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

std::mutex exporter_mtx;
std::unique_ptr<exporter> the_exporter;
std::atomic<exporter*> active{nullptr};

std::string nanos(std::chrono::system_clock::time_point t) {
  return std::to_string(
    std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch())
      .count());
}

nlohmann::json string_attribute(const std::string& k, const std::string& v) {
  return {{"key", k}, {"value", {{"stringValue", v}}}};
}

} // namespace

std::optional<context> parse(std::string_view x) {
  // version "-" trace-id "-" parent-id "-" flags
  if (x.size() < 55 || x[2] != '-' || x[35] != '-' || x[52] != '-')
    return std::nullopt;
  auto version = x.substr(0, 2);
  if (!is_hex(version) || version == "ff")
    return std::nullopt;
  if (version == "00" && x.size() != 55)
    return std::nullopt;
  if (version != "00" && x.size() > 55 && x[55] != '-')
    return std::nullopt;
  auto trace = x.substr(3, 32);
  auto span = x.substr(36, 16);
  auto flags = x.substr(53, 2);
  if (!is_hex(trace) || !is_hex(span) || !is_hex(flags) || all_zero(trace)
      || all_zero(span))
    return std::nullopt;
  context c;
  c.trace_id = std::string{trace};
  c.span_id = std::string{span};
  c.flags = static_cast<uint8_t>(std::stoi(std::string{flags}, nullptr, 16));
  return c;
}

std::string format(const context& x) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "00-";
  out += x.trace_id;
  out += '-';
  out += x.span_id;
  out += '-';
  out += hex[(x.flags >> 4) & 0xf];
  out += hex[x.flags & 0xf];
  return out;
}

std::string start() {
  return format(context{random_hex(32), random_hex(16), 1});
}

std::string child(std::string_view parent) {
  auto p = parse(parent);
  if (!p)
    return {};
  p->span_id = random_hex(16);
  return format(*p);
}

std::string continue_from(std::string_view parent) {
  if (enabled())
    return child(parent);
  return parse(parent) ? std::string{parent} : std::string{};
}

std::string trace_id_of(std::string_view traceparent) {
  auto p = parse(traceparent);
  return p ? p->trace_id : std::string{};
}

std::string span_id_of(std::string_view traceparent) {
  auto p = parse(traceparent);
  return p ? p->span_id : std::string{};
}

std::string adopt_or_start(std::string_view incoming,
                           std::string& parent_span) {
  parent_span.clear();
  if (auto p = parse(incoming)) {
    parent_span = p->span_id;
    if (!enabled())
      return std::string{incoming};
    p->span_id = random_hex(16);
    return format(*p);
  }
  return start();
}

std::string check_endpoint(const std::string& endpoint) {
  if (endpoint.empty())
    return {};
  if (endpoint.compare(0, 8, "https://") == 0)
    return "https is not supported; use an http:// collector endpoint "
           "(for example http://localhost:4318)";
  if (!split_endpoint(endpoint))
    return "must be an http:// URL such as http://localhost:4318";
  return {};
}

void start_exporter(const exporter_config& cfg) {
  if (cfg.endpoint.empty() || !check_endpoint(cfg.endpoint).empty())
    return;
  std::lock_guard<std::mutex> guard{exporter_mtx};
  if (the_exporter)
    return;
  the_exporter = std::make_unique<exporter>(cfg);
  active.store(the_exporter.get(), std::memory_order_release);
}

void stop_exporter() {
  std::lock_guard<std::mutex> guard{exporter_mtx};
  active.store(nullptr, std::memory_order_release);
  if (the_exporter)
    the_exporter->stop();
  // The object stays: a thread that read `active` just before may still
  // push into it (the push is then simply never exported).
}

bool enabled() {
  return active.load(std::memory_order_acquire) != nullptr;
}

void record(span x) {
  if (auto* e = active.load(std::memory_order_acquire))
    e->push(std::move(x));
}

void finish(const std::string& traceparent, const std::string& parent_span,
            std::string name, span_kind kind,
            std::chrono::system_clock::time_point start,
            std::vector<std::pair<std::string, std::string>> attributes,
            bool error) {
  if (traceparent.empty() || !enabled())
    return;
  span s;
  s.traceparent = traceparent;
  s.parent_span = parent_span;
  s.name = std::move(name);
  s.kind = kind;
  s.start = start;
  s.end = std::chrono::system_clock::now();
  s.attributes = std::move(attributes);
  s.error = error;
  record(std::move(s));
}

std::string encode_otlp(const std::vector<span>& batch,
                        const exporter_config& cfg) {
  using nlohmann::json;
  auto spans = json::array();
  for (auto& s : batch) {
    auto c = parse(s.traceparent);
    if (!c)
      continue;
    auto attrs = json::array();
    for (auto& [k, v] : s.attributes)
      attrs.push_back(string_attribute(k, v));
    for (auto& [k, v] : s.int_attributes)
      attrs.push_back(
        {{"key", k}, {"value", {{"intValue", std::to_string(v)}}}});
    json j{{"traceId", c->trace_id},
           {"spanId", c->span_id},
           {"name", s.name},
           {"kind", static_cast<int>(s.kind)},
           {"startTimeUnixNano", nanos(s.start)},
           {"endTimeUnixNano", nanos(s.end)},
           {"attributes", std::move(attrs)}};
    if (!s.parent_span.empty())
      j["parentSpanId"] = s.parent_span;
    if (s.error)
      j["status"] = {{"code", 2}, {"message", s.status_message}};
    spans.push_back(std::move(j));
  }
  auto resource
    = json::array({string_attribute("service.name", cfg.service_name)});
  if (!cfg.instance.empty())
    resource.push_back(string_attribute("service.instance.id", cfg.instance));
  json req{{"resourceSpans",
            json::array({{{"resource", {{"attributes", std::move(resource)}}},
                          {"scopeSpans",
                           json::array({{{"scope", {{"name", "troupe"}}},
                                         {"spans", std::move(spans)}}})}}})}};
  return req.dump();
}

} // namespace troupe::tracing
