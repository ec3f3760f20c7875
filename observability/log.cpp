// Text and JSON-lines output for Troupe's logger.
#include "observability/log.hpp"
#include "base/text.hpp"

#include "base/secrets.hpp"
#include "observability/tracing.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace troupe::log {

namespace {

std::string node_name = "troupe";
bool json_format = false;

void append_escaped(std::string& out, const std::string& x) {
  for (char c : x) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
}

void append_field(std::string& out, const char* key, const std::string& val) {
  out += ",\"";
  out += key;
  out += "\":\"";
  append_escaped(out, val);
  out += '"';
}

} // namespace

bool init(const std::string& node, const std::string& level,
          const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    return false;
  if (format != "text" && format != "json")
    return false;
  node_name = node;
  json_format = format == "json";
  auto logger = spdlog::stderr_color_mt("troupe");
  logger->set_level(lvl);
  if (json_format)
    logger->set_pattern("%v");
  else
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
  return true;
}

void write(spdlog::level::level_enum lvl, const char* component,
           const std::string& order_id, const std::string& correlation_id,
           const std::string& raw, const std::string& traceparent) {
  // No line shows a password or token, whatever the caller passed in
  // (libpqxx messages may echo a connection string).
  auto msg = secrets::redact(raw);
  auto trace_id = tracing::trace_id_of(traceparent);
  std::string line;
  if (json_format) {
    line.reserve(128 + msg.size());
    line += "{\"ts\":\"";
    line += iso8601_now();
    line += '"';
    append_field(line, "level", spdlog::level::to_string_view(lvl).data());
    append_field(line, "node", node_name);
    append_field(line, "component", component);
    if (!order_id.empty())
      append_field(line, "order_id", order_id);
    if (!correlation_id.empty())
      append_field(line, "correlation_id", correlation_id);
    if (!trace_id.empty())
      append_field(line, "trace_id", trace_id);
    append_field(line, "msg", msg);
    line += '}';
  } else {
    line += '[';
    line += component;
    line += "] ";
    line += msg;
    if (!order_id.empty()) {
      line += " order_id=";
      line += order_id;
    }
    if (!correlation_id.empty()) {
      line += " correlation_id=";
      line += correlation_id;
    }
    if (!trace_id.empty()) {
      line += " trace_id=";
      line += trace_id;
    }
  }
  spdlog::default_logger_raw()->log(lvl, "{}", line);
}

} // namespace troupe::log
