// libmicrohttpd behind http_server: callbacks, suspension and resumption of
// connections whose answer is computed elsewhere, the deadline sweeper.
#include "adapters/http/http_server.hpp"
#include "base/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "observability/log.hpp"

namespace troupe {

namespace {

const std::string empty_string;

using clock = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           clock::now().time_since_epoch())
    .count();
}

/// The answer to a request the server can no longer serve.
http_response shutting_down() {
  http_response res;
  res.status = 503;
  res.set_header("Retry-After", "1");
  res.set_header("Connection", "close");
  res.set_content(
    R"({"error":"unavailable","details":"the node is shutting down"})",
    "application/json");
  return res;
}

enum class phase : int { reading, idle, busy };

} // namespace

const std::string& http_request::header(std::string_view lower_name) const {
  for (auto& [k, v] : headers)
    if (k == lower_name)
      return v;
  return empty_string;
}

bool http_request::has_param(std::string_view name) const {
  for (auto& [k, v] : query)
    if (k == name)
      return true;
  return false;
}

const std::string& http_request::param(std::string_view name) const {
  for (auto& [k, v] : query)
    if (k == name)
      return v;
  return empty_string;
}

/// One TCP connection: its socket and the deadline it must meet now (0:
/// none). Written on the event thread, read by the sweeper.
struct http_server::connection_state {
  int fd = -1;
  std::atomic<int64_t> deadline{0};
  std::atomic<int> what{static_cast<int>(phase::reading)};
};

/// One request, from its request line until libmicrohttpd completes it.
struct http_server::request_state {
  enum step { headers, body, dispatched } at = headers;
  connection_state* conn = nullptr;
  MHD_Connection* connection = nullptr;
  clock::time_point start;
  http_request req;
  bool too_large = false;
  // Between the handler's thread and the event thread:
  std::mutex mtx;
  bool ready = false;     ///< `res` holds the answer
  bool suspended = false; ///< the connection waits for `res`
  bool queued = false;
  http_response res;
};

/// Where an answer goes; emptied by the first answer, so that a late one
/// (after a shutdown answered for it) is dropped.
struct http_server::answer_slot {
  std::mutex mtx;
  http_server::request_state* rs = nullptr;
};

namespace {

extern "C" {

MHD_Result access_cb(void* cls, MHD_Connection* c, const char* url,
                     const char* method, const char*, const char* upload,
                     size_t* upload_size, void** req_cls) {
  auto self = static_cast<http_server*>(cls);
  return self->on_access(c, url, method, upload, upload_size, req_cls) != 0
           ? MHD_YES
           : MHD_NO;
}

void* uri_cb(void* cls, const char*, MHD_Connection* c) {
  return static_cast<http_server*>(cls)->on_request_line(c);
}

void completed_cb(void* cls, MHD_Connection*, void** req_cls,
                  MHD_RequestTerminationCode) {
  static_cast<http_server*>(cls)->on_completed(req_cls);
}

void connection_cb(void* cls, MHD_Connection* c, void** socket_ctx,
                   MHD_ConnectionNotificationCode code) {
  static_cast<http_server*>(cls)->on_connection(
    c, socket_ctx, code == MHD_CONNECTION_NOTIFY_STARTED);
}

void log_cb(void*, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  auto n = std::strlen(buf);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  log::debug("http", "libmicrohttpd: {}", buf);
}

MHD_Result collect_cb(void* cls, MHD_ValueKind, const char* key,
                      const char* value) {
  auto out
    = static_cast<std::vector<std::pair<std::string, std::string>>*>(cls);
  out->emplace_back(key ? key : "", value ? value : "");
  return MHD_YES;
}

} // extern "C"

} // namespace

/// Answers for its request once; answers 500 if dropped unanswered.
struct answer_guard {
  http_server* srv;
  std::shared_ptr<http_server::answer_slot> slot;
  std::function<void(http_server::answer_slot&, http_response&&)> deliver;
  bool done = false;
  void answer(http_response&& res) {
    if (done)
      return;
    done = true;
    deliver(*slot, std::move(res));
  }
  ~answer_guard() {
    if (!done) {
      http_response res;
      res.status = 500;
      res.set_content(R"({"error":"internal_error","details":"no answer"})",
                      "application/json");
      answer(std::move(res));
    }
  }
};

http_server::http_server(http_server_settings cfg, handler h)
  : cfg_(std::move(cfg)), handler_(std::move(h)) {
}

http_server::~http_server() {
  stop(std::chrono::milliseconds{0});
}

std::string http_server::start() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto port = std::to_string(cfg_.port);
  if (getaddrinfo(cfg_.host.c_str(), port.c_str(), &hints, &found) != 0
      || found == nullptr)
    return "cannot resolve " + cfg_.host;
  sockaddr_storage addr{};
  std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
  bool v6 = found->ai_family == AF_INET6;
  freeaddrinfo(found);

  for (int i = 0; i < std::max(1, cfg_.threads); ++i)
    workers_.emplace_back([this] { work(); });

  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME
                   | MHD_USE_ERROR_LOG;
  if (v6)
    flags |= MHD_USE_IPv6;
  // The inactivity timeout only backs up the deadlines of the sweeper (it
  // also ends a client that stops reading its answer).
  auto backstop = std::max(cfg_.read_timeout, cfg_.idle_timeout);
  auto backstop_s = static_cast<unsigned>(
    std::chrono::duration_cast<std::chrono::seconds>(backstop).count() + 1);
  // Headers live in the connection's memory pool next to the read buffer
  // and the answer's headers; the exact header limit is checked per request.
  auto pool = static_cast<size_t>(cfg_.max_header_bytes) + 16384;
  daemon_ = MHD_start_daemon(
    flags, 0, nullptr, nullptr, &access_cb, this, MHD_OPTION_SOCK_ADDR,
    reinterpret_cast<sockaddr*>(&addr), MHD_OPTION_CONNECTION_LIMIT,
    static_cast<unsigned>(cfg_.max_connections), MHD_OPTION_CONNECTION_TIMEOUT,
    backstop_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_URI_LOG_CALLBACK, &uri_cb,
    this, MHD_OPTION_NOTIFY_COMPLETED, &completed_cb, this,
    MHD_OPTION_NOTIFY_CONNECTION, &connection_cb, this,
    MHD_OPTION_EXTERNAL_LOGGER, &log_cb, this, MHD_OPTION_END);
  if (daemon_ == nullptr) {
    stop(std::chrono::milliseconds{0});
    return "cannot bind " + cfg_.host + ":" + std::to_string(cfg_.port)
           + " (in use?)";
  }
  auto info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info ? info->port : cfg_.port;
  sweeping_ = true;
  sweeper_ = std::thread{[this] { sweep(); }};
  return {};
}

void http_server::post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> guard{jobs_mtx_};
    if (stopping_)
      return; // dropped: its responder answers 500
    jobs_.push_back(std::move(job));
  }
  jobs_cv_.notify_one();
}

void http_server::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> guard{jobs_mtx_};
      jobs_cv_.wait(guard, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty())
        return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job();
    } catch (const std::exception& e) {
      log::error("http", "handler failed: {}", e.what());
    } catch (...) {
      log::error("http", "handler failed");
    }
  }
}

void* http_server::on_request_line(MHD_Connection* c) {
  auto rs = new request_state;
  rs->connection = c;
  rs->start = clock::now();
  auto info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  if (info != nullptr && info->socket_context != nullptr) {
    rs->conn = static_cast<connection_state*>(info->socket_context);
    // A kept-alive connection starts its next request: the read deadline
    // runs from here. (A new one's runs from the accept.)
    auto idle = static_cast<int>(phase::idle);
    if (rs->conn->what.compare_exchange_strong(
          idle, static_cast<int>(phase::reading)))
      rs->conn->deadline
        = now_ns() + std::chrono::nanoseconds(cfg_.read_timeout).count();
  }
  return rs;
}

void http_server::on_completed(void** req_cls) {
  auto rs = static_cast<request_state*>(*req_cls);
  *req_cls = nullptr;
  if (rs == nullptr)
    return;
  if (rs->conn != nullptr) {
    rs->conn->what = static_cast<int>(phase::idle);
    rs->conn->deadline = now_ns()
                         + std::chrono::nanoseconds(cfg_.idle_timeout).count();
  }
  delete rs;
}

void http_server::on_connection(MHD_Connection* c, void** socket_ctx,
                                bool started) {
  if (started) {
    auto cs = new connection_state;
    auto info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    cs->fd = info ? info->connect_fd : -1;
    cs->deadline = now_ns()
                   + std::chrono::nanoseconds(cfg_.read_timeout).count();
    *socket_ctx = cs;
    std::lock_guard<std::mutex> guard{conns_mtx_};
    conns_.insert(cs);
    ++open_;
    return;
  }
  auto cs = static_cast<connection_state*>(*socket_ctx);
  *socket_ctx = nullptr;
  if (cs == nullptr)
    return;
  {
    std::lock_guard<std::mutex> guard{conns_mtx_};
    conns_.erase(cs);
    --open_;
  }
  delete cs;
}

int http_server::on_access(MHD_Connection* c, const char* url,
                           const char* method, const char* upload,
                           size_t* upload_size, void** req_cls) {
  auto rs = static_cast<request_state*>(*req_cls);
  if (rs == nullptr) { // no request-line callback (cannot happen): be safe
    rs = static_cast<request_state*>(on_request_line(c));
    *req_cls = rs;
  }
  switch (rs->at) {
    case request_state::headers: {
      rs->at = request_state::body;
      auto& req = rs->req;
      req.method = method;
      if (req.method == "HEAD")
        req.method = "GET";
      req.path = url;
      req.start = rs->start;
      MHD_get_connection_values(c, MHD_HEADER_KIND, &collect_cb, &req.headers);
      int64_t header_bytes = static_cast<int64_t>(std::strlen(url))
                             + static_cast<int64_t>(std::strlen(method)) + 12;
      for (auto& [k, v] : req.headers) {
        header_bytes += static_cast<int64_t>(k.size() + v.size() + 4);
        k = ascii_lower(k);
      }
      MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, &collect_cb,
                                &req.query);
      if (header_bytes > cfg_.max_header_bytes)
        req.refused = 431;
      auto& length = req.header("content-length");
      if (!length.empty()) {
        char* end = nullptr;
        auto n = std::strtoll(length.c_str(), &end, 10);
        if (end != nullptr && *end == '\0' && n > cfg_.max_body_bytes)
          req.refused = 413;
      }
      if (req.refused != 0) {
        // Answered before the body is read; libmicrohttpd then discards
        // the rest and closes the connection.
        rs->at = request_state::dispatched;
        dispatch(c, rs, std::move(req));
        return 1;
      }
      return 1;
    }
    case request_state::body:
      if (*upload_size != 0) {
        auto room = static_cast<size_t>(cfg_.max_body_bytes)
                    - std::min(rs->req.body.size(),
                               static_cast<size_t>(cfg_.max_body_bytes));
        if (*upload_size > room)
          rs->too_large = true;
        if (!rs->too_large)
          rs->req.body.append(upload, *upload_size);
        *upload_size = 0;
        return 1;
      }
      rs->at = request_state::dispatched;
      if (rs->too_large) {
        rs->req.refused = 413;
        rs->req.body.clear();
      }
      dispatch(c, rs, std::move(rs->req));
      return 1;
    case request_state::dispatched:
      if (*upload_size != 0) {
        *upload_size = 0; // the rest of a refused body
        return 1;
      }
      {
        std::lock_guard<std::mutex> guard{rs->mtx};
        if (!rs->ready || rs->queued)
          return 1;
        rs->queued = true;
      }
      queue(c, rs);
      return 1;
  }
  return 0;
}

void http_server::dispatch(MHD_Connection* c, request_state* rs,
                           http_request&& req) {
  if (rs->conn != nullptr) {
    rs->conn->what = static_cast<int>(phase::busy);
    rs->conn->deadline = 0;
  }
  auto slot = std::make_shared<answer_slot>();
  slot->rs = rs;
  bool closing = false;
  {
    std::lock_guard<std::mutex> guard{pending_mtx_};
    ++pending_;
    closing = closing_;
    if (!closing)
      outstanding_.emplace(slot.get(), slot);
  }
  if (closing) {
    slot->rs = nullptr;
    deliver(rs, shutting_down());
    std::lock_guard<std::mutex> g{rs->mtx};
    rs->queued = true;
    queue(c, rs);
    return;
  }
  auto guard = std::make_shared<answer_guard>();
  guard->srv = this;
  guard->slot = slot;
  guard->deliver = [this](answer_slot& s, http_response&& res) {
    request_state* target = nullptr;
    {
      std::lock_guard<std::mutex> g{s.mtx};
      std::swap(target, s.rs);
    }
    if (target == nullptr)
      return; // answered at shutdown already
    {
      std::lock_guard<std::mutex> g{pending_mtx_};
      outstanding_.erase(&s);
    }
    deliver(target, std::move(res));
  };
  handler_(std::move(req),
           [guard](http_response res) { guard->answer(std::move(res)); });
  guard.reset();
  bool now = false;
  {
    std::lock_guard<std::mutex> g{rs->mtx};
    if (rs->ready) {
      now = !rs->queued;
      rs->queued = true;
    } else {
      rs->suspended = true;
      MHD_suspend_connection(c);
    }
  }
  if (now)
    queue(c, rs);
}

void http_server::deliver(request_state* rs, http_response&& res) {
  bool resume = false;
  {
    std::lock_guard<std::mutex> guard{rs->mtx};
    rs->res = std::move(res);
    rs->ready = true;
    resume = rs->suspended;
  }
  // After the resumption the event thread may complete and free `rs`.
  if (resume)
    MHD_resume_connection(rs->connection);
  {
    std::lock_guard<std::mutex> guard{pending_mtx_};
    --pending_;
  }
  pending_cv_.notify_all();
}

void http_server::queue(MHD_Connection* c, request_state* rs) {
  auto& res = rs->res;
  MHD_Response* r = nullptr;
  if (!res.static_body.empty())
    r = MHD_create_response_from_buffer(
      res.static_body.size(), const_cast<char*>(res.static_body.data()),
      MHD_RESPMEM_PERSISTENT);
  else
    r = MHD_create_response_from_buffer(res.body.size(), res.body.data(),
                                        MHD_RESPMEM_MUST_COPY);
  if (r == nullptr)
    return;
  for (auto& [k, v] : res.headers)
    MHD_add_response_header(r, k.c_str(), v.c_str());
  MHD_queue_response(c, static_cast<unsigned>(res.status), r);
  MHD_destroy_response(r);
}

void http_server::sweep() {
  auto tick = std::chrono::milliseconds{50};
  while (sweeping_) {
    std::this_thread::sleep_for(tick);
    auto now = now_ns();
    int read_cut = 0;
    int idle_cut = 0;
    {
      std::lock_guard<std::mutex> guard{conns_mtx_};
      for (auto cs : conns_) {
        auto d = cs->deadline.load();
        if (d == 0 || now < d || cs->fd < 0)
          continue;
        cs->deadline = 0;
        // The event thread sees the end of the stream and closes it; the
        // socket stays ours until then (CLOSED takes this mutex first).
        ::shutdown(cs->fd, SHUT_RDWR);
        if (cs->what == static_cast<int>(phase::idle))
          ++idle_cut;
        else
          ++read_cut;
      }
    }
    if (read_cut > 0)
      probe_.connections_closed(connection_cut::read_timeout, read_cut);
    if (idle_cut > 0)
      probe_.connections_closed(connection_cut::idle_timeout, idle_cut);
    probe_.connections(open_.load());
  }
}

void http_server::stop(std::chrono::milliseconds grace) {
  if (daemon_ != nullptr) {
    // No new connections; kept-alive ones may still send requests.
    auto fd = MHD_quiesce_daemon(daemon_);
    if (fd >= 0)
      ::close(fd);
    std::unique_lock<std::mutex> guard{pending_mtx_};
    pending_cv_.wait_for(guard, grace, [this] { return pending_ == 0; });
  }
  {
    std::lock_guard<std::mutex> guard{jobs_mtx_};
    stopping_ = true;
  }
  jobs_cv_.notify_all();
  for (auto& t : workers_)
    if (t.joinable())
      t.join();
  workers_.clear();
  if (daemon_ != nullptr) {
    // Answers still outstanding (an actor that has not replied yet) get a
    // 503 now; a late answer finds its slot empty and is dropped. Every
    // connection is resumed before libmicrohttpd stops.
    std::vector<std::weak_ptr<answer_slot>> late;
    {
      std::lock_guard<std::mutex> guard{pending_mtx_};
      closing_ = true;
      for (auto& [ptr, weak] : outstanding_)
        late.push_back(weak);
      outstanding_.clear();
    }
    if (!late.empty())
      log::warn("http", "{} answer(s) outstanding at shutdown: 503",
                late.size());
    for (auto& weak : late) {
      auto slot = weak.lock();
      if (!slot)
        continue;
      request_state* target = nullptr;
      {
        std::lock_guard<std::mutex> g{slot->mtx};
        std::swap(target, slot->rs);
      }
      if (target == nullptr)
        continue;
      deliver(target, shutting_down());
    }
  }
  if (daemon_ != nullptr) {
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }
  sweeping_ = false;
  if (sweeper_.joinable())
    sweeper_.join();
}

} // namespace troupe
