// Routes of the HTTP API.
#include "http_api.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <sstream>
#include <unordered_map>

#include <netinet/in.h>
#include <sys/socket.h>

#include <caf/scoped_actor.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "errors.hpp"
#include "events.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "order_request.hpp"
#include "queries.hpp"
#include "ui_assets.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& error,
                const std::string& details) {
  send_json(res, status, json{{"error", error}, {"details", details}});
}

void unavailable(httplib::Response& res, const std::string& details) {
  res.set_header("Retry-After", "1");
  send_error(res, 503, "unavailable", details);
}

std::string lower(std::string x) {
  std::transform(x.begin(), x.end(), x.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return x;
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

/// Serves an embedded UI file; the page may only load its own scripts and
/// styles and talk to this node.
void serve_asset(const httplib::Request& req, httplib::Response& res,
                 const served_asset& a) {
  static const std::string csp
    = "default-src 'self'; script-src 'self'; style-src 'self'; "
      "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
      "form-action 'self'; frame-ancestors 'none'";
  res.set_header("ETag", a.etag);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  if (a.type.rfind("text/html", 0) == 0)
    res.set_header("Content-Security-Policy", csp);
  if (req.get_header_value("If-None-Match") == a.etag) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.set_content(a.file->body.data(), a.file->body.size(), std::string{a.type});
}

/// When the current request started; set in the pre-routing handler, read
/// by the logger, both on the worker thread that serves the request.
thread_local std::chrono::steady_clock::time_point request_start;

/// A route label with bounded cardinality.
std::string route_of(const httplib::Request& req) {
  auto& p = req.path;
  if (p == "/orders" || p == "/health" || p == "/ready" || p == "/metrics"
      || p == "/admin/dead-letters" || p == "/admin/outbox")
    return p;
  if (p.rfind("/orders/", 0) == 0)
    return "/orders/{id}";
  if (p.rfind("/admin/dead-letters/", 0) == 0)
    return "/admin/dead-letters/{id}/redrive";
  if (find_asset(p) != nullptr)
    return "ui";
  return "other";
}

/// cpp-httplib listens with a backlog of 5, which drops connections under a
/// burst of new clients. Find the listening socket on `port` and widen it.
void widen_backlog(int port) {
  for (int fd = 3; fd < 4096; ++fd) {
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0
        || !listening)
      continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0)
      continue;
    int bound = 0;
    if (addr.ss_family == AF_INET)
      bound = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    else if (addr.ss_family == AF_INET6)
      bound = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    if (bound == port)
      ::listen(fd, 1024);
  }
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

http_api::http_api(caf::actor_system& sys, http_settings cfg, caf::actor store,
                   std::shared_ptr<order_queries> queries, readiness ready,
                   route_hook extra)
  : sys_(sys),
    cfg_(std::move(cfg)),
    store_(std::move(store)),
    queries_(std::move(queries)),
    ready_(std::move(ready)),
    extra_(std::move(extra)),
    srv_(std::make_unique<httplib::Server>()) {
}

http_api::~http_api() {
  stop();
}

void http_api::routes() {
  auto& srv = *srv_;
  auto threads = static_cast<size_t>(std::max(4, cfg_.threads));
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  srv.set_tcp_nodelay(true);
  srv.set_keep_alive_max_count(100000);
  // Idle keep-alive connections hold a worker until this timeout, and
  // stopping the server waits for them: keep it short so a drain is quick.
  srv.set_keep_alive_timeout(3);
  srv.set_payload_max_length(static_cast<size_t>(cfg_.max_body_bytes));
  srv.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    auto route = route_of(req);
    metrics::inc("troupe_http_requests_total",
                 {{"method", req.method},
                  {"route", route},
                  {"code", std::to_string(res.status)}});
    metrics::observe("troupe_http_request_duration_seconds",
                     {{"method", req.method}, {"route", route}},
                     std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - request_start)
                       .count());
  });
  srv.set_pre_routing_handler(
    [this](const httplib::Request& req, httplib::Response& res) {
      request_start = std::chrono::steady_clock::now();
      res.set_header("Access-Control-Allow-Origin", cfg_.cors_origin);
      res.set_header("Vary", "Origin");
      if (req.method == "OPTIONS") {
        res.set_header("Access-Control-Allow-Methods",
                       "GET, POST, OPTIONS");
        res.set_header("Access-Control-Allow-Headers",
                       "Content-Type, Idempotency-Key, X-Correlation-ID");
        res.set_header("Access-Control-Expose-Headers",
                       "Location, X-Correlation-ID");
        res.set_header("Access-Control-Max-Age", "600");
        res.status = 204;
        return httplib::Server::HandlerResponse::Handled;
      }
      res.set_header("Access-Control-Expose-Headers",
                     "Location, X-Correlation-ID");
      if (draining_ && req.path != "/health") {
        res.set_header("Connection", "close");
        unavailable(res, "the node is shutting down");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
  srv.set_error_handler([](const httplib::Request& req,
                           httplib::Response& res) {
    if (!res.body.empty())
      return;
    switch (res.status) {
      case 404:
        send_error(res, 404, "not_found", "no route for " + req.method + " "
                                            + req.path);
        break;
      case 413:
        send_error(res, 413, "payload_too_large",
                   "the request body is larger than allowed");
        break;
      case 400:
        send_error(res, 400, "bad_request", "the request is malformed");
        break;
      default:
        send_error(res, res.status, "error",
                   "HTTP status " + std::to_string(res.status));
    }
  });
  srv.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                               std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      if (ep)
        std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::error("http", "handler failed: {}", what);
    send_error(res, 500, "internal_error", what);
  });

  srv.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, json{{"status", "up"}});
  });

  srv.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    try {
      auto [backlog, age] = queries_->outbox_backlog();
      metrics::set("troupe_outbox_backlog", {}, static_cast<double>(backlog));
      metrics::set("troupe_outbox_oldest_age_seconds", {}, age);
    } catch (const std::exception&) {
      // Storage down: the other figures are still worth reading.
    }
    res.set_content(metrics::render(), "text/plain; version=0.0.4");
  });

  srv.Get("/ready", [this](const httplib::Request&, httplib::Response& res) {
    std::string why;
    if (ready_(why))
      send_json(res, 200, json{{"status", "ready"}});
    else
      send_json(res, 503, json{{"status", "not_ready"},
                               {"error", "not_ready"},
                               {"details", why}});
  });

  srv.Post("/orders", [this](const httplib::Request& req,
                             httplib::Response& res) {
    auto ctype = lower(req.get_header_value("Content-Type"));
    if (ctype.rfind("application/json", 0) != 0) {
      send_error(res, 415, "unsupported_media_type",
                 "Content-Type must be application/json");
      return;
    }
    if (req.body.size() > static_cast<size_t>(cfg_.max_body_bytes)) {
      send_error(res, 413, "payload_too_large",
                 "the request body is larger than "
                   + std::to_string(cfg_.max_body_bytes) + " bytes");
      return;
    }
    auto parsed = parse_order_request(
      req.body, order_headers{req.get_header_value("Idempotency-Key"),
                              req.get_header_value("X-Correlation-ID")});
    if (auto bad = std::get_if<order_request_error>(&parsed)) {
      send_json(res, 400, json{{"error", bad->error},
                               {"field", bad->field},
                               {"details", bad->details}});
      return;
    }
    auto cmd = std::get<create_order>(std::move(parsed));
    if (cmd.correlation_id.empty())
      cmd.correlation_id = events::new_uuid();
    cmd.order_id = events::new_uuid();
    cmd.deadline_ms = cfg_.deadline.count();
    caf::scoped_actor self{sys_};
    self->request(store_, cfg_.request_timeout, std::move(cmd))
      .receive(
        [&](created_order& x) {
          res.set_header("Location", "/orders/" + x.order_id);
          res.set_header("X-Correlation-ID", x.correlation_id);
          send_json(res, x.created ? 201 : 200,
                    json{{"id", x.order_id},
                         {"status", x.status},
                         {"correlation_id", x.correlation_id}});
          if (x.created) {
            metrics::inc("troupe_orders_created_total");
            log::debug_order("http", x.order_id, x.correlation_id,
                             "order accepted");
          }
        },
        [&](caf::error& err) {
          if (retryable(err)) {
            unavailable(res, describe(err));
          } else {
            log::error("http", "creating an order failed: {}", describe(err));
            send_error(res, 500, "internal_error", describe(err));
          }
        });
  });

  srv.Get(R"(/orders/([^/]+))", [this](const httplib::Request& req,
                                       httplib::Response& res) {
    auto id = lower(req.matches[1].str());
    if (!events::is_uuid(id)) {
      send_error(res, 404, "not_found", "no order with id " + id);
      return;
    }
    try {
      auto order = queries_->get_order(id);
      if (!order)
        send_error(res, 404, "not_found", "no order with id " + id);
      else
        send_json(res, 200, *order);
    } catch (const std::exception& e) {
      unavailable(res, e.what());
    }
  });

  srv.Get("/orders", [this](const httplib::Request& req,
                            httplib::Response& res) {
    if (req.has_param("ids")) {
      // Batch lookup: GET /orders?ids=a,b,c (at most 200 ids).
      std::vector<std::string> ids;
      std::stringstream in{req.get_param_value("ids")};
      std::string id;
      while (std::getline(in, id, ','))
        if (!id.empty())
          ids.push_back(lower(id));
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
      status = req.get_param_value("status");
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
      auto raw = req.get_param_value("limit");
      char* end = nullptr;
      auto v = std::strtol(raw.c_str(), &end, 10);
      if (raw.empty() || *end != '\0' || v < 1) {
        send_error(res, 400, "invalid_parameter",
                   "limit must be a positive integer (at most 1000)");
        return;
      }
      limit = static_cast<int>(std::min<long>(v, 1000));
    }
    try {
      send_json(res, 200, queries_->list_orders(status, limit));
    } catch (const std::exception& e) {
      unavailable(res, e.what());
    }
  });

  // An operator list: `?limit=` (1..1000, default 100), newest first.
  auto admin_list = [this](const char* path,
                           nlohmann::json (order_queries::*list)(int)) {
    srv_->Get(path, [this, list](const httplib::Request& req,
                                 httplib::Response& res) {
      int limit = 100;
      if (req.has_param("limit"))
        limit = std::clamp(std::atoi(req.get_param_value("limit").c_str()), 1,
                           1000);
      try {
        send_json(res, 200, ((*queries_).*list)(limit));
      } catch (const std::exception& e) {
        unavailable(res, e.what());
      }
    });
  };
  admin_list("/admin/dead-letters", &order_queries::list_dead_letters);
  // Outbox rows Kafka refused for good (too large, unknown topic), set aside
  // so that they never hold back the rows behind them.
  admin_list("/admin/outbox", &order_queries::list_set_aside);

  srv.Post(R"(/admin/dead-letters/(\d+)/redrive)",
           [this](const httplib::Request& req, httplib::Response& res) {
             auto id = std::stoll(req.matches[1].str());
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

  if (extra_)
    extra_(srv);

  // The web UI: from disk when `http.static-dir` is set (UI development:
  // edit and reload), otherwise the files embedded at build time. API routes
  // are registered first and win; other paths keep the JSON 404.
  if (!cfg_.static_dir.empty()) {
    if (!srv.set_mount_point("/", cfg_.static_dir))
      log::warn("http", "static dir {} is not a directory", cfg_.static_dir);
  } else {
    srv.Get(R"(/[A-Za-z0-9_./-]*)",
            [](const httplib::Request& req, httplib::Response& res) {
              if (auto a = find_asset(req.path))
                serve_asset(req, res, *a);
              else
                res.status = 404; // the error handler writes the JSON body
            });
  }
}

std::string http_api::start() {
  routes();
  if (cfg_.port == 0) {
    bound_port_ = srv_->bind_to_any_port(cfg_.host);
    if (bound_port_ <= 0)
      return "cannot bind " + cfg_.host;
  } else {
    if (!srv_->bind_to_port(cfg_.host, cfg_.port))
      return "cannot bind " + cfg_.host + ":" + std::to_string(cfg_.port)
             + " (in use?)";
    bound_port_ = cfg_.port;
  }
  widen_backlog(bound_port_);
  thread_ = std::thread{[this] { srv_->listen_after_bind(); }};
  return {};
}

void http_api::drain() {
  draining_ = true;
}

void http_api::stop() {
  if (srv_)
    srv_->stop();
  if (thread_.joinable())
    thread_.join();
}

} // namespace troupe
