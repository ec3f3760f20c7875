// Routes of the HTTP API.
#include "adapters/http/http_api.hpp"
#include "base/text.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/commands.hpp"
#include "adapters/http/order_reads.hpp"
#include "adapters/http/ui_assets.hpp"
#include "base/errors.hpp"
#include "base/secrets.hpp"
#include "base/utf8.hpp"
#include "envelope/events.hpp"
#include "envelope/order_request.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "observability/tracing.hpp"
#include "runtime/admission.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

void send_json(http_response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

/// Every error answer; `details` may come from a database or Kafka error,
/// so it is redacted (no connection string or password reaches a client).
void send_error(http_response& res, int status, const std::string& error,
                const std::string& details) {
  send_json(res, status,
            json{{"error", error}, {"details", secrets::redact(details)}});
}

void unavailable(http_response& res, const std::string& details) {
  res.set_header("Retry-After", "1");
  send_error(res, 503, "unavailable", details);
}

/// A strong validator for an embedded file (FNV-1a of its bytes).
std::string etag_of(std::string_view body) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : body)
    h = (h ^ c) * 1099511628211ull;
  std::ostringstream out;
  out << '"' << std::hex << h << '"';
  return out.str();
}

/// An embedded UI file with what its responses need, computed once.
struct served_asset {
  const ui_asset* file;
  std::string etag;
  std::string_view type;
};

/// The embedded UI file served for a path ("/" is index.html); nullptr
/// when there is none.
const served_asset* find_asset(const std::string& path) {
  static const auto by_path = [] {
    std::unordered_map<std::string, served_asset> m;
    for (const auto& a : embedded_ui())
      m.emplace(std::string{a.path},
                served_asset{&a, etag_of(a.body), ui_content_type(a.path)});
    if (auto i = m.find("/index.html"); i != m.end())
      m.emplace("/", i->second);
    return m;
  }();
  auto i = by_path.find(path);
  return i == by_path.end() ? nullptr : &i->second;
}

const std::string& ui_csp() {
  static const std::string csp
    = "default-src 'self'; script-src 'self'; style-src 'self'; "
      "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
      "form-action 'self'; frame-ancestors 'none'";
  return csp;
}

/// Serves an embedded UI file; the page may only load its own scripts and
/// styles and talk to this node.
void serve_asset(const http_request& req, http_response& res,
                 const served_asset& a) {
  res.set_header("ETag", a.etag);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  if (a.type.rfind("text/html", 0) == 0)
    res.set_header("Content-Security-Policy", ui_csp());
  if (req.header("if-none-match") == a.etag) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.static_body = a.file->body;
  res.set_header("Content-Type", std::string{a.type});
}

/// A file of `http.static-dir` (UI development); false when there is none.
/// Paths with `..` are refused before the disk is touched.
bool serve_file(const std::string& dir, const http_request& req,
                http_response& res) {
  auto path = req.path == "/" ? std::string{"/index.html"} : req.path;
  if (path.find("..") != std::string::npos)
    return false;
  std::ifstream in{dir + path, std::ios::binary};
  if (!in)
    return false;
  std::ostringstream body;
  body << in.rdbuf();
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  auto type = ui_content_type(path);
  if (type.rfind("text/html", 0) == 0)
    res.set_header("Content-Security-Policy", ui_csp());
  res.set_content(body.str(), std::string{type});
  return true;
}

/// The answer when the store refused `what`: 503 while a retry may help
/// (an outage), 500 otherwise.
auto store_failed(responder done, const char* what) {
  return [done, what](caf::error& err) {
    http_response res;
    if (retryable(err)) {
      unavailable(res, describe(err));
    } else {
      log::error("http", "{} failed: {}", what, describe(err));
      send_error(res, 500, "internal_error", describe(err));
    }
    done(std::move(res));
  };
}

/// The answer of GET /orders/{id}, with `status`: the order with its lines,
/// timeline and dead letters; 404 when unknown, 503 while the database does
/// not answer. Returns whether the order was sent. Blocks on the database:
/// runs on an HTTP worker.
bool send_order(order_reads& queries, const std::string& id, int status,
                http_response& res) {
  try {
    auto order = queries.get_order(id);
    if (!order) {
      send_error(res, 404, "not_found", "no order with id " + id);
      return false;
    }
    send_json(res, status, *order);
    return true;
  } catch (const std::exception& e) {
    unavailable(res, e.what());
    return false;
  }
}

/// A route label with bounded cardinality.
std::string route_of(const std::string& p) {
  if (p == "/orders" || p == "/health" || p == "/ready" || p == "/metrics"
      || p == "/admin/dead-letters" || p == "/admin/outbox")
    return p;
  if (p.rfind("/orders/", 0) == 0)
    return p.size() > 7 && p.compare(p.size() - 7, 7, "/cancel") == 0
             ? "/orders/{id}/cancel"
             : "/orders/{id}";
  if (p.rfind("/admin/dead-letters/", 0) == 0)
    return "/admin/dead-letters/{id}/redrive";
  if (is_operator_path(p))
    return "/admin/other";
  if (find_asset(p) != nullptr)
    return "ui";
  return "other";
}

/// `?limit=` of the operator lists: 1..1000, default 100.
int limit_of(const http_request& req) {
  if (!req.has_param("limit"))
    return 100;
  return std::clamp(std::atoi(req.param("limit").c_str()), 1, 1000);
}

/// The span of one request: `traceparent` is its context (adopted from the
/// request's header as parent, or a new trace), and `done` wrapped to
/// record the span and to answer with the context in a `traceparent`
/// header.
struct request_span {
  std::string traceparent;
  std::string parent_span;
  std::chrono::system_clock::time_point started;
};

request_span start_span(const http_request& req) {
  request_span s;
  s.traceparent = tracing::adopt_or_start(req.header("traceparent"),
                                          s.parent_span);
  // The request line arrived at `req.start` (steady clock).
  s.started = std::chrono::system_clock::now()
              - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::steady_clock::now() - req.start);
  return s;
}

responder traced(const request_span& span, const char* route, responder done) {
  return [span, route, done = std::move(done)](http_response res) mutable {
    res.set_header("traceparent", span.traceparent);
    if (tracing::enabled()) {
      std::vector<std::pair<std::string, std::string>> attrs{
        {"http.request.method", "POST"},
        {"http.route", route},
        {"http.response.status_code", std::to_string(res.status)}};
      for (auto& [k, v] : res.headers)
        if (k == "Location")
          attrs.emplace_back("troupe.order_id",
                             v.substr(v.find_last_of('/') + 1));
      tracing::finish(span.traceparent, span.parent_span,
                      std::string{"POST "} + route, tracing::span_kind::server,
                      span.started, std::move(attrs), res.status >= 500);
    }
    done(std::move(res));
  };
}

} // namespace

std::string_view ui_content_type(std::string_view path) {
  auto dot = path.rfind('.');
  auto ext = dot == std::string_view::npos ? std::string_view{}
                                           : path.substr(dot + 1);
  if (ext == "html")
    return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs")
    return "text/javascript; charset=utf-8";
  if (ext == "css")
    return "text/css; charset=utf-8";
  if (ext == "json")
    return "application/json";
  if (ext == "svg")
    return "image/svg+xml";
  if (ext == "png")
    return "image/png";
  if (ext == "ico")
    return "image/x-icon";
  if (ext == "txt")
    return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// -- route table -------------------------------------------------------------

void http_routes::add(const std::string& method, const std::string& pattern,
                      route r) {
  r.method = method;
  if (pattern.find('(') != std::string::npos
      || pattern.find('[') != std::string::npos) {
    r.is_regex = true;
    r.regex = std::regex{pattern};
  } else {
    r.path = pattern;
  }
  routes_.push_back(std::move(r));
}

void http_routes::get(const std::string& pattern, handler h, on where) {
  route r;
  r.where = where;
  r.sync = std::move(h);
  add("GET", pattern, std::move(r));
}

void http_routes::post(const std::string& pattern, handler h, on where) {
  route r;
  r.where = where;
  r.sync = std::move(h);
  add("POST", pattern, std::move(r));
}

void http_routes::post_async(const std::string& pattern, async_handler h) {
  route r;
  r.async = std::move(h);
  add("POST", pattern, std::move(r));
}

const http_routes::route*
http_routes::match(const std::string& method, const std::string& path,
                   std::vector<std::string>& matches) const {
  for (auto& r : routes_) {
    if (r.method != method)
      continue;
    if (!r.is_regex) {
      if (r.path == path)
        return &r;
      continue;
    }
    std::smatch m;
    if (std::regex_match(path, m, r.regex)) {
      matches.clear();
      for (size_t i = 1; i < m.size(); ++i)
        matches.push_back(m[i].str());
      return &r;
    }
  }
  return nullptr;
}

// -- the API -------------------------------------------------------------------

http_api::http_api(caf::actor_system& sys, http_settings cfg,
                   order_intake_actor store,
                   std::shared_ptr<order_reads> queries, readiness ready,
                   route_hook extra)
  : sys_(sys),
    cfg_(std::move(cfg)),
    store_(std::move(store)),
    queries_(std::move(queries)),
    ready_(std::move(ready)),
    extra_(std::move(extra)) {
}

http_api::~http_api() {
  stop();
}

void http_api::handle(http_request&& req, responder done) {
  // Runs on the event thread: decide, answer at once or hand on.
  auto route = route_of(req.path);
  responder finish = [this, done = std::move(done), route, method = req.method,
                      start = req.start](http_response res) {
    if (!cfg_.cors_origin.empty()) {
      res.set_header("Access-Control-Allow-Origin", cfg_.cors_origin);
      res.set_header("Access-Control-Expose-Headers",
                     "Location, X-Correlation-ID");
      res.set_header("Vary", "Origin");
    }
    if (draining_)
      res.set_header("Connection", "close");
    probe_.request(
      method, route, res.status,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
        .count());
    done(std::move(res));
  };
  http_response res;
  if (req.refused == 413) {
    send_error(res, 413, "payload_too_large",
               "the request body is larger than "
                 + std::to_string(cfg_.max_body_bytes) + " bytes");
    return finish(std::move(res));
  }
  if (req.refused == 431) {
    send_error(res, 431, "headers_too_large",
               "the request headers are larger than "
                 + std::to_string(cfg_.max_header_bytes) + " bytes");
    return finish(std::move(res));
  }
  if (req.method == "OPTIONS") {
    res.status = 204;
    res.set_header("Allow", "GET, POST, OPTIONS");
    if (!cfg_.cors_origin.empty()) {
      res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      res.set_header("Access-Control-Allow-Headers",
                     "Content-Type, Idempotency-Key, X-Correlation-ID, "
                     "Authorization");
      res.set_header("Access-Control-Max-Age", "600");
    }
    return finish(std::move(res));
  }
  if (draining_ && req.path != "/health") {
    unavailable(res, "the node is shutting down");
    return finish(std::move(res));
  }
  // Who may call what, for every route at once.
  const access_policy* policy = nullptr;
  if (is_operator_path(req.path))
    policy = &cfg_.admin;
  else if (req.path == "/metrics")
    policy = &cfg_.metrics;
  if (policy != nullptr) {
    switch (check_access(*policy, req.header("authorization"))) {
      case access_decision::allowed:
        break;
      case access_decision::unauthorized:
        probe_.unauthorized(route);
        res.set_header("WWW-Authenticate", "Bearer realm=\"troupe\"");
        send_error(res, 401, "unauthorized",
                   "this endpoint needs Authorization: Bearer <token>");
        return finish(std::move(res));
      case access_decision::forbidden:
        send_error(res, 403, "forbidden",
                   "operator endpoints are disabled on this node: configure "
                   "a token (TROUPE_HTTP_ADMIN_TOKEN)");
        return finish(std::move(res));
    }
  }
  auto r = routes_.match(req.method, req.path, req.matches);
  if (r == nullptr) {
    if (req.method == "GET" && !cfg_.static_dir.empty()
        && req.path.find("..") == std::string::npos) {
      // UI development: files from disk, read on a worker.
      auto shared = std::make_shared<http_request>(std::move(req));
      server_->post([this, shared, finish] {
        http_response out;
        if (!serve_file(cfg_.static_dir, *shared, out))
          send_error(out, 404, "not_found", "no route for GET " + shared->path);
        finish(std::move(out));
      });
      return;
    }
    if (req.method == "GET") {
      if (auto a = find_asset(req.path)) {
        serve_asset(req, res, *a);
        return finish(std::move(res));
      }
    }
    send_error(res, 404, "not_found",
               "no route for " + req.method + " " + req.path);
    return finish(std::move(res));
  }
  if (r->where == http_routes::on::event_thread && r->sync) {
    r->sync(req, res);
    return finish(std::move(res));
  }
  auto shared = std::make_shared<http_request>(std::move(req));
  server_->post([r, shared, finish] {
    if (r->async) {
      r->async(*shared, finish);
      return;
    }
    http_response out;
    try {
      r->sync(*shared, out);
    } catch (const std::exception& e) {
      log::error("http", "handler failed: {}", e.what());
      out = http_response{};
      send_error(out, 500, "internal_error", e.what());
    }
    finish(std::move(out));
  });
}

void http_api::create_order(const http_request& req, responder done_) {
  auto span = start_span(req);
  auto done = traced(span, "/orders", std::move(done_));
  http_response res;
  auto ctype = ascii_lower(req.header("content-type"));
  if (ctype.rfind("application/json", 0) != 0) {
    send_error(res, 415, "unsupported_media_type",
               "Content-Type must be application/json");
    return done(std::move(res));
  }
  auto parsed = parse_order_request(
    req.body, order_headers{req.header("idempotency-key"),
                            req.header("x-correlation-id")});
  if (auto bad = std::get_if<order_request_error>(&parsed)) {
    send_json(res, 400,
              json{{"error", bad->error},
                   {"field", bad->field},
                   {"details", bad->details}});
    return done(std::move(res));
  }
  if (cfg_.admission && !cfg_.admission->admit()) {
    saga_.shed(saga_probe::source::http);
    res.set_header("Retry-After", "1");
    send_error(res, 503, "overloaded",
               std::to_string(cfg_.admission->in_flight())
                 + " orders in flight, as many as saga.max-in-flight ("
                 + std::to_string(cfg_.admission->limit())
                 + ") allows; retry later");
    return done(std::move(res));
  }
  auto cmd = std::get<troupe::create_order>(std::move(parsed));
  if (cmd.correlation_id.empty())
    cmd.correlation_id = events::new_uuid();
  cmd.order_id = events::new_uuid();
  cmd.deadline_ms = cfg_.deadline.count();
  cmd.traceparent = span.traceparent;
  // The store's answer comes to a short-lived actor; no thread waits.
  auto timeout = cfg_.request_timeout;
  sys_.spawn([store = store_, timeout, cmd = std::move(cmd), done,
              saga = saga_](caf::event_based_actor* self) mutable {
    auto ref = cmd.idempotency_key;
    auto trace = cmd.traceparent;
    self->request(store, timeout, std::move(cmd))
      .then(
        [done, saga, ref, trace](created_order& x) mutable {
          http_response res;
          res.set_header("Location", "/orders/" + x.order_id);
          res.set_header("X-Correlation-ID", x.correlation_id);
          send_json(res, x.created ? 201 : 200,
                    json{{"id", x.order_id},
                         {"status", x.status},
                         {"correlation_id", x.correlation_id},
                         {"ref", ref.empty() ? json() : json(ref)}});
          if (x.created) {
            saga.created();
            log::debug_traced("http", x.order_id, x.correlation_id, trace,
                              "order accepted");
          }
          done(std::move(res));
        },
        store_failed(done, "creating an order"));
  });
}

void http_api::cancel(const http_request& req, responder done_) {
  auto span = start_span(req);
  auto done = traced(span, "/orders/{id}/cancel", std::move(done_));
  auto id = ascii_lower(req.matches[0]);
  if (!events::is_uuid(id)) {
    http_response res;
    send_error(res, 400, "invalid_parameter",
               "not an order id: " + utf8::excerpt(id, 64));
    return done(std::move(res));
  }
  auto timeout = cfg_.request_timeout;
  // A request that names its own trace carries it to the orchestrator;
  // otherwise the cancel continues the order's trace.
  auto trace = tracing::parse(req.header("traceparent")) ? span.traceparent
                                                         : std::string{};
  std::weak_ptr<http_server> workers = server_;
  sys_.spawn([store = store_, queries = queries_, workers, timeout, id, done,
              trace](caf::event_based_actor* self) mutable {
    self->request(store, timeout, troupe::cancel_order{id, trace})
      .then(
        [queries, workers, done, id, trace](cancel_answer& x) mutable {
          http_response res;
          if (!x.found) {
            send_error(res, 404, "not_found", "no order with id " + id);
            return done(std::move(res));
          }
          if (!x.recorded) {
            // Final already: nothing to cancel, nothing changed.
            std::string status = to_string(x.status);
            std::string reason = to_string(x.reason);
            send_json(
              res, 409,
              json{{"error", "order_final"},
                   {"details", "order " + id + " is already " + status
                                 + (reason.empty() ? "" : " (" + reason + ")")},
                   {"id", id},
                   {"status", status},
                   {"reason", reason.empty() ? json() : json(reason)},
                   {"correlation_id", x.correlation_id}});
            return done(std::move(res));
          }
          // Recorded: the order's orchestrator ends it shortly (CANCELLED /
          // customer_cancelled). The answer is the order as GET
          // /orders/{id} shows it now, usually still open with
          // `cancel.requested` on its timeline. The read blocks, so it runs
          // on an HTTP worker, not on this actor's thread. Should it fail,
          // the 503 is safe to retry: a repeated cancel changes nothing.
          log::debug_traced("http", id, x.correlation_id, trace,
                            "cancel requested");
          auto srv = workers.lock();
          if (!srv) {
            unavailable(res, "the node is shutting down");
            return done(std::move(res));
          }
          // Dropped once the server is stopping: the request is answered
          // with an error then, never left hanging.
          srv->post(
            [queries, done, id, correlation_id = x.correlation_id]() mutable {
              http_response out;
              if (send_order(*queries, id, 202, out)) {
                out.set_header("Location", "/orders/" + id);
                out.set_header("X-Correlation-ID", correlation_id);
              }
              done(std::move(out));
            });
        },
        store_failed(done, "recording a cancel"));
  });
}

void http_api::routes() {
  probe_routes();
  order_routes();
  admin_routes();
  if (extra_)
    extra_(routes_);
  // Anything else under GET: the web UI (embedded, or `http.static-dir`),
  // otherwise the JSON 404 (see handle()).
}

/// Liveness, readiness and metrics.
void http_api::probe_routes() {
  auto& srv = routes_;
  using on = http_routes::on;

  srv.get(
    "/health",
    [](const http_request&, http_response& res) {
      send_json(res, 200, json{{"status", "up"}});
    },
    on::event_thread);

  srv.get("/metrics", [this](const http_request&, http_response& res) {
    try {
      auto [backlog, age] = queries_->outbox_backlog();
      probe_.outbox_backlog(backlog, age);
    } catch (const std::exception&) {
      // Storage down: the other figures are still worth reading.
    }
    res.set_content(metrics::render(), metrics::content_type);
  });

  // The probe's answer is cached: no wait on the event thread.
  srv.get(
    "/ready",
    [this](const http_request&, http_response& res) {
      std::string why;
      if (ready_(why))
        send_json(res, 200, json{{"status", "ready"}});
      else
        send_json(res, 503,
                  json{{"status", "not_ready"},
                       {"error", "not_ready"},
                       {"details", secrets::redact(why)}});
    },
    on::event_thread);
}

/// Orders: placing one, cancelling one, reading one, listing them.
void http_api::order_routes() {
  auto& srv = routes_;
  srv.post_async("/orders", [this](const http_request& req, responder done) {
    create_order(req, std::move(done));
  });

  srv.post_async(R"(/orders/([^/]+)/cancel)",
                 [this](const http_request& req, responder done) {
                   cancel(req, std::move(done));
                 });

  srv.get(R"(/orders/([^/]+))",
          [this](const http_request& req, http_response& res) {
            auto id = ascii_lower(req.matches[0]);
            if (!events::is_uuid(id)) {
              send_error(res, 404, "not_found", "no order with id " + id);
              return;
            }
            send_order(*queries_, id, 200, res);
          });

  srv.get("/orders", [this](const http_request& req, http_response& res) {
    if (req.has_param("ids")) {
      // Batch lookup: GET /orders?ids=a,b,c (at most 200 ids).
      std::vector<std::string> ids;
      std::stringstream in{req.param("ids")};
      std::string id;
      while (std::getline(in, id, ','))
        if (!id.empty())
          ids.push_back(ascii_lower(id));
      if (ids.size() > 200) {
        send_error(res, 400, "invalid_parameter", "at most 200 ids at once");
        return;
      }
      for (auto& x : ids)
        if (!events::is_uuid(x)) {
          send_error(res, 400, "invalid_parameter", "not an order id: " + x);
          return;
        }
      try {
        send_json(res, 200, queries_->get_orders(ids));
      } catch (const std::exception& e) {
        unavailable(res, e.what());
      }
      return;
    }
    std::string status;
    if (req.has_param("status")) {
      status = req.param("status");
      std::transform(status.begin(), status.end(), status.begin(),
                     [](unsigned char c) { return std::toupper(c); });
      if (status != "NEW" && status != "CONFIRMED" && status != "CANCELLED") {
        send_error(res, 400, "invalid_parameter",
                   "status must be one of NEW, CONFIRMED, CANCELLED");
        return;
      }
    }
    int limit = 100;
    if (req.has_param("limit")) {
      auto& raw = req.param("limit");
      char* end = nullptr;
      auto v = std::strtol(raw.c_str(), &end, 10);
      if (raw.empty() || *end != '\0' || v < 1) {
        send_error(res, 400, "invalid_parameter",
                   "limit must be a positive integer (at most 1000)");
        return;
      }
      limit = static_cast<int>(std::min<long>(v, 1000));
    }
    std::string ref;
    if (req.has_param("ref")) {
      ref = req.param("ref");
      if (ref.empty() || ref.size() > order_limits::header_chars
          || !std::all_of(ref.begin(), ref.end(), [](unsigned char c) {
               return c >= 0x20 && c <= 0x7E;
             })) {
        send_error(res, 400, "invalid_parameter",
                   "ref must be printable ASCII of 1 to "
                     + std::to_string(order_limits::header_chars)
                     + " characters");
        return;
      }
    }
    try {
      send_json(res, 200, queries_->list_orders(status, limit, ref));
    } catch (const std::exception& e) {
      unavailable(res, e.what());
    }
  });
}

/// Operator endpoints: behind the access check in handle(), like any route
/// under /admin added later.
void http_api::admin_routes() {
  auto& srv = routes_;
  auto admin_list = [this](const char* path,
                           nlohmann::json (order_reads::*list)(int)) {
    routes_.get(path,
                [this, list](const http_request& req, http_response& res) {
                  try {
                    send_json(res, 200, ((*queries_).*list)(limit_of(req)));
                  } catch (const std::exception& e) {
                    unavailable(res, e.what());
                  }
                });
  };
  admin_list("/admin/dead-letters", &order_reads::list_dead_letters);
  // Outbox rows Kafka refused for good (too large, unknown topic), set aside
  // so that they never hold back the rows behind them.
  admin_list("/admin/outbox", &order_reads::list_set_aside);

  srv.post(R"(/admin/dead-letters/(\d{1,18})/redrive)",
           [this](const http_request& req, http_response& res) {
             auto id = std::stoll(req.matches[0]);
             try {
               if (queries_->redrive_dead_letter(id)) {
                 log::info("http", "dead letter {} redriven", id);
                 send_json(res, 202, json{{"id", id}, {"status", "redriven"}});
               } else {
                 send_error(res, 404, "not_found",
                            "no dead letter with id " + std::to_string(id));
               }
             } catch (const std::exception& e) {
               unavailable(res, e.what());
             }
           });
}

std::string http_api::start() {
  routes();
  http_server_settings s;
  s.host = cfg_.host;
  s.port = cfg_.port;
  s.threads = std::max(1, cfg_.threads);
  s.max_connections = cfg_.max_connections;
  s.read_timeout = cfg_.read_timeout;
  s.idle_timeout = cfg_.idle_timeout;
  s.max_header_bytes = cfg_.max_header_bytes;
  s.max_body_bytes = cfg_.max_body_bytes;
  server_ = std::make_shared<http_server>(s, [this](http_request&& req,
                                                    responder done) {
    handle(std::move(req), std::move(done));
  });
  return server_->start();
}

void http_api::drain() {
  draining_ = true;
}

void http_api::stop() {
  if (server_) {
    // In-flight handlers finish first (a write waits at most the request
    // timeout).
    server_->stop(cfg_.request_timeout + std::chrono::seconds(1));
    server_.reset();
  }
}

} // namespace troupe
