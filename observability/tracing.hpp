// W3C Trace Context for orders, and the export of their spans over OTLP/HTTP
// (JSON encoding).
//
// A trace context travels as a `traceparent` text
// ("00-<32 hex trace id>-<16 hex span id>-<2 hex flags>"): in the
// `traceparent` header of HTTP requests and Kafka messages, in the outbox
// rows' headers, and in the messages between the actors, where it names the
// span of the step that handles or emits them. An empty text means "no
// trace": a step without one starts none and emits none, so the
// deterministic suites, which create no traces, stay free of random ids.
//
// Spans are recorded into a bounded queue and exported in batches by one
// background thread. Recording never blocks and never fails: when the queue
// is full, or the collector refuses or cannot be reached, spans are dropped
// and counted (troupe_trace_spans_dropped_total{reason}). Without an
// endpoint nothing is recorded at all.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace troupe::tracing {

/// The parts of a valid `traceparent`.
struct context {
  std::string trace_id; ///< 32 lowercase hex digits, not all zero
  std::string span_id;  ///< 16 lowercase hex digits, not all zero
  uint8_t flags = 1;
};

/// Reads a `traceparent` as W3C Trace Context level 1 defines it (version
/// 00 exactly; a higher version is read by its first four fields). None
/// when it is malformed: the caller then starts a new trace.
std::optional<context> parse(std::string_view traceparent);

/// The `traceparent` text of `x`.
std::string format(const context& x);

/// A new trace: a random trace id and span id, sampled.
std::string start();

/// A new span in the trace of `parent` (empty when `parent` is empty or
/// malformed).
std::string child(std::string_view parent);

/// The context of a step that continues `parent`: a new span of its trace
/// while spans are exported; `parent` itself (passed on unchanged, so that
/// spans exported elsewhere keep their links) while they are not. Empty
/// when `parent` is empty or malformed.
std::string continue_from(std::string_view parent);

/// The trace id of a `traceparent`, empty when there is none.
std::string trace_id_of(std::string_view traceparent);

/// The span id of a `traceparent`, empty when there is none.
std::string span_id_of(std::string_view traceparent);

/// The `traceparent` of an HTTP request: the incoming header adopted as the
/// parent of a new span, or a new trace when it is absent or malformed.
/// `parent_span` is set to the caller's span id when one was adopted. While
/// spans are not exported, a valid incoming context is passed on unchanged.
std::string adopt_or_start(std::string_view incoming, std::string& parent_span);

enum class span_kind : uint8_t {
  internal = 1,
  server = 2,
  producer = 4,
  consumer = 5
};

/// One finished span, ready for export.
struct span {
  std::string traceparent; ///< the span's own context
  std::string parent_span; ///< the parent's span id; empty for a root
  std::string name;
  span_kind kind = span_kind::internal;
  std::chrono::system_clock::time_point start;
  std::chrono::system_clock::time_point end;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<std::pair<std::string, int64_t>> int_attributes;
  bool error = false;
  std::string status_message;
};

/// Where and how to export.
struct exporter_config {
  /// OTLP/HTTP endpoint, `http://host:port` (spans go to `/v1/traces`) or a
  /// full URL with its path. Empty: tracing off.
  std::string endpoint;
  std::string service_name = "troupe";
  std::string instance; ///< service.instance.id (the node's name)
  size_t queue_capacity = 8192;
  size_t batch_size = 512;
  std::chrono::milliseconds interval{500};
  std::chrono::milliseconds timeout{2000};
};

/// What is wrong with an endpoint, empty when it can be used.
std::string check_endpoint(const std::string& endpoint);

/// Starts the exporter thread (once per process; later calls are ignored).
void start_exporter(const exporter_config& cfg);

/// Sends what is queued (waiting at most the export timeout) and stops the
/// thread.
void stop_exporter();

/// Whether spans are recorded (an exporter runs).
bool enabled();

/// Queues a finished span; drops it (counted) when the queue is full.
void record(span x);

/// Convenience: a span of `traceparent` (no-op when it is empty or tracing
/// is off) named `name`, from `start` until now.
void finish(const std::string& traceparent, const std::string& parent_span,
            std::string name, span_kind kind,
            std::chrono::system_clock::time_point start,
            std::vector<std::pair<std::string, std::string>> attributes = {},
            bool error = false);

/// The OTLP JSON (ExportTraceServiceRequest) of a batch.
std::string encode_otlp(const std::vector<span>& batch,
                        const exporter_config& cfg);

} // namespace troupe::tracing
