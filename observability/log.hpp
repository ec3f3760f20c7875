// Troupe's logger: spdlog underneath, one line per event, as text or as JSON
// lines with timestamp, level, node, component and message (plus order_id,
// correlation_id and trace_id when the line is about one order).
#pragma once

#include <string>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

namespace troupe::log {

/// Configures the process-wide logger. `format` is "text" or "json".
/// Returns false when `level` or `format` is not recognized.
bool init(const std::string& node, const std::string& level,
          const std::string& format);

/// Writes one line. Prefer the helpers below.
/// `traceparent` is the W3C trace context of the step the line is about
/// (the line shows its trace id); empty when there is none.
void write(spdlog::level::level_enum lvl, const char* component,
           const std::string& order_id, const std::string& correlation_id,
           const std::string& msg, const std::string& traceparent = {});

inline bool enabled(spdlog::level::level_enum lvl) {
  return spdlog::default_logger_raw()->should_log(lvl);
}

#define TROUPE_LOG_FN(fn, lvl)                                                 \
  template <class... Ts>                                                       \
  void fn(const char* component, fmt::format_string<Ts...> f, Ts&&... xs) {    \
    if (enabled(lvl))                                                          \
      write(lvl, component, {}, {}, fmt::format(f, std::forward<Ts>(xs)...));  \
  }                                                                            \
  template <class... Ts>                                                       \
  void fn##_order(const char* component, const std::string& order_id,          \
                  const std::string& correlation_id,                           \
                  fmt::format_string<Ts...> f, Ts&&... xs) {                   \
    if (enabled(lvl))                                                          \
      write(lvl, component, order_id, correlation_id,                          \
            fmt::format(f, std::forward<Ts>(xs)...));                          \
  }                                                                            \
  template <class... Ts>                                                       \
  void fn##_traced(const char* component, const std::string& order_id,         \
                   const std::string& correlation_id,                          \
                   const std::string& traceparent,                             \
                   fmt::format_string<Ts...> f, Ts&&... xs) {                  \
    if (enabled(lvl))                                                          \
      write(lvl, component, order_id, correlation_id,                          \
            fmt::format(f, std::forward<Ts>(xs)...), traceparent);             \
  }

TROUPE_LOG_FN(trace, spdlog::level::trace)
TROUPE_LOG_FN(debug, spdlog::level::debug)
TROUPE_LOG_FN(info, spdlog::level::info)
TROUPE_LOG_FN(warn, spdlog::level::warn)
TROUPE_LOG_FN(error, spdlog::level::err)

#undef TROUPE_LOG_FN

} // namespace troupe::log
