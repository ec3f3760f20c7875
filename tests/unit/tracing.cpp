// W3C trace context: reading, continuing and starting traceparents, and the
// OTLP JSON of exported spans.
#define CAF_SUITE tracing
#include "observability/tracing.hpp"

#include <caf/test/unit_test.hpp>
#include <nlohmann/json.hpp>

using namespace troupe;

namespace {

const std::string sample
  = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

} // namespace

CAF_TEST(a valid traceparent is read into its parts) {
  auto c = tracing::parse(sample);
  CAF_REQUIRE(c);
  CAF_CHECK_EQUAL(c->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  CAF_CHECK_EQUAL(c->span_id, "00f067aa0ba902b7");
  CAF_CHECK_EQUAL(c->flags, 1);
  CAF_CHECK_EQUAL(tracing::format(*c), sample);
  CAF_CHECK_EQUAL(tracing::trace_id_of(sample),
                  "4bf92f3577b34da6a3ce929d0e0e4736");
  CAF_CHECK_EQUAL(tracing::span_id_of(sample), "00f067aa0ba902b7");
}

CAF_TEST(malformed traceparents are refused) {
  for (std::string bad :
       {"", "00", "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01"}) {
    CAF_CHECK(!tracing::parse(bad));
    CAF_CHECK_EQUAL(tracing::trace_id_of(bad), "");
    CAF_CHECK_EQUAL(tracing::child(bad), "");
  }
}

CAF_TEST(a later version is read by its first four fields) {
  auto later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more";
  auto c = tracing::parse(later);
  CAF_REQUIRE(c);
  CAF_CHECK_EQUAL(c->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
}

CAF_TEST(a child keeps the trace and gets a new span) {
  auto kid = tracing::child(sample);
  auto c = tracing::parse(kid);
  CAF_REQUIRE(c);
  CAF_CHECK_EQUAL(c->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  CAF_CHECK_NOT_EQUAL(c->span_id, "00f067aa0ba902b7");
  CAF_CHECK_NOT_EQUAL(tracing::child(sample), kid);
}

CAF_TEST(a new trace is valid and differs every time) {
  auto a = tracing::start();
  auto b = tracing::start();
  CAF_CHECK(tracing::parse(a));
  CAF_CHECK(tracing::parse(b));
  CAF_CHECK_NOT_EQUAL(tracing::trace_id_of(a), tracing::trace_id_of(b));
}

CAF_TEST(without an exporter a request context is passed on unchanged) {
  CAF_REQUIRE(!tracing::enabled());
  std::string parent;
  CAF_CHECK_EQUAL(tracing::adopt_or_start(sample, parent), sample);
  CAF_CHECK_EQUAL(parent, "00f067aa0ba902b7");
  CAF_CHECK_EQUAL(tracing::continue_from(sample), sample);
  CAF_CHECK_EQUAL(tracing::continue_from("garbage"), "");
  auto fresh = tracing::adopt_or_start("garbage", parent);
  CAF_CHECK(tracing::parse(fresh));
  CAF_CHECK_EQUAL(parent, "");
}

CAF_TEST(endpoints must be http URLs) {
  CAF_CHECK_EQUAL(tracing::check_endpoint(""), "");
  CAF_CHECK_EQUAL(tracing::check_endpoint("http://localhost:4318"), "");
  CAF_CHECK_EQUAL(tracing::check_endpoint("http://collector/v1/traces"), "");
  CAF_CHECK_NOT_EQUAL(tracing::check_endpoint("https://localhost:4318"), "");
  CAF_CHECK_NOT_EQUAL(tracing::check_endpoint("localhost:4318"), "");
  CAF_CHECK_NOT_EQUAL(tracing::check_endpoint("http://"), "");
}

CAF_TEST(spans are encoded as an OTLP ExportTraceServiceRequest) {
  tracing::span root;
  root.traceparent = sample;
  root.name = "POST /orders";
  root.kind = tracing::span_kind::server;
  root.start = std::chrono::system_clock::time_point{
    std::chrono::nanoseconds{1700000000000000000}};
  root.end = root.start + std::chrono::milliseconds{3};
  root.attributes = {{"http.route", "/orders"}};
  tracing::span step;
  step.traceparent = tracing::child(sample);
  step.parent_span = "00f067aa0ba902b7";
  step.name = "payment order.created";
  step.kind = tracing::span_kind::consumer;
  step.start = root.start;
  step.end = root.end;
  step.error = true;
  tracing::span broken;
  broken.traceparent = "not a context";
  tracing::exporter_config cfg;
  cfg.instance = "node-1";
  auto j
    = nlohmann::json::parse(tracing::encode_otlp({root, step, broken}, cfg));
  auto& rs = j.at("resourceSpans").at(0);
  auto& attrs = rs.at("resource").at("attributes");
  CAF_CHECK_EQUAL(attrs.at(0).at("key"), "service.name");
  CAF_CHECK_EQUAL(attrs.at(0).at("value").at("stringValue"), "troupe");
  CAF_CHECK_EQUAL(attrs.at(1).at("value").at("stringValue"), "node-1");
  auto& spans = rs.at("scopeSpans").at(0).at("spans");
  CAF_REQUIRE_EQUAL(spans.size(), 2u);
  CAF_CHECK_EQUAL(spans[0].at("traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
  CAF_CHECK_EQUAL(spans[0].at("spanId"), "00f067aa0ba902b7");
  CAF_CHECK(!spans[0].contains("parentSpanId"));
  CAF_CHECK_EQUAL(spans[0].at("kind"), 2);
  CAF_CHECK_EQUAL(spans[0].at("startTimeUnixNano"), "1700000000000000000");
  CAF_CHECK_EQUAL(spans[0].at("endTimeUnixNano"), "1700000000003000000");
  CAF_CHECK_EQUAL(spans[0].at("attributes").at(0).at("key"), "http.route");
  CAF_CHECK_EQUAL(spans[1].at("parentSpanId"), "00f067aa0ba902b7");
  CAF_CHECK_EQUAL(spans[1].at("kind"), 5);
  CAF_CHECK_EQUAL(spans[1].at("status").at("code"), 2);
}
