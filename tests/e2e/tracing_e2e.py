"""End to end: one trace per order. A small OTLP/HTTP receiver collects the
spans a node exports (tracing.otlp-endpoint). An order posted with a W3C
`traceparent` comes back as one trace under the caller's span: the HTTP
request, the relay's publish of every event, each consumer step (payment,
inventory, analytics, the orchestrator's results, notification) and the
orchestrator's decision, every span's parent in the trace and each step a
child of the publish that carried its event. The events on Kafka carry the
context as a `traceparent` header, the order's log lines its trace id. An
order produced to the intake topic with a `traceparent` header continues
that trace; a POST without one (or with a malformed one) starts a trace.
With the collector gone, orders still complete and the spans that could
not be sent are counted as dropped in /metrics."""
import json
import re
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from troupe_env import (Broker, Check, Database, Node, free_port, http, log, metrics_text, wait_final, wait_for)

ORDER = {"customer_email": "trace@example.com", "item_sku": "SKU-LAMP-01", "quantity": 1, "amount_cents": 1999}
TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


class Receiver:
    """An OTLP/HTTP (JSON) trace receiver: keeps every span it is sent."""

    def __init__(self):
        self.spans = []
        self.requests = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ok = self.path == "/v1/traces" and self.headers.get("Content-Type", "").startswith("application/json")
                if ok:
                    req = json.loads(body)
                    with outer.lock:
                        outer.requests += 1
                        for rs in req.get("resourceSpans", []):
                            res = {a["key"]: a["value"].get("stringValue") for a in rs["resource"]["attributes"]}
                            for ss in rs.get("scopeSpans", []):
                                for s in ss.get("spans", []):
                                    s["_resource"] = res
                                    outer.spans.append(s)
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def trace(self, trace_id):
        with self.lock:
            return [s for s in self.spans if s["traceId"] == trace_id]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def post(url, body, headers):
    req = urllib.request.Request(url + "/orders", data=json.dumps(body).encode(), method="POST",
                                 headers=dict({"Content-Type": "application/json"}, **headers))
    with urllib.request.urlopen(req, timeout=10) as res:
        return res.status, json.loads(res.read()), res.headers.get("traceparent", "")


def attr(span, key):
    for a in span.get("attributes", []):
        if a["key"] == key:
            return a["value"].get("stringValue")
    return None




# The steps of a confirmed single-item order: (consumer group, topic).
STEPS = [("payment", "order.created"), ("inventory", "order.created"), ("analytics", "order.created"),
         ("orchestrator", "payment.result"), ("orchestrator", "inventory.result"),
         ("notification", "order.status.changed")]
PUBLISHED = ["order.created", "payment.result", "inventory.result", "order.status.changed"]


def complete(spans):
    names = [s["name"] for s in spans]
    return (all(f"{g} {t}" in names for g, t in STEPS) and all(f"publish {t}" in names for t in PUBLISHED)
            and "orchestrator decide" in names)


def check_tree(check, spans, trace_id, root_parent, root_name, what):
    """Every span of the trace has its parent in the trace (the root: the
    caller's span); each consumer step is a child of the publish of its
    topic; each publish a child of the step that wrote the event."""
    by_id = {s["spanId"]: s for s in spans}
    check.expect(len(by_id) == len(spans), f"{what}: span ids are unique")
    roots = [s for s in spans if s.get("parentSpanId", "") == root_parent]
    check.expect(len(roots) == 1 and roots[0]["name"] == root_name,
                 f"{what}: one span under the caller's ({root_parent or 'none'}): "
                 f"{[r['name'] for r in roots]}")
    for s in spans:
        if s in roots:
            continue
        parent = by_id.get(s.get("parentSpanId", ""))
        check.expect(parent is not None, f"{what}: the parent of {s['name']} is in the trace")
        if parent is None:
            continue
        if s["kind"] == 5:  # consumer step: under the publish of its topic
            topic = attr(s, "messaging.destination.name")
            check.expect(parent["name"] == f"publish {topic}",
                         f"{what}: {s['name']} is a child of 'publish {topic}', not of {parent['name']}")
        if s["kind"] == 4:  # publish: under the step that wrote the event
            check.expect(parent["kind"] in (2, 5, 1), f"{what}: {s['name']} is under a step: {parent['name']}")
        check.expect(int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]), f"{what}: {s['name']} ends after it starts")
    decide = [s for s in spans if s["name"] == "orchestrator decide"]
    if decide:
        parent = by_id.get(decide[0].get("parentSpanId", ""), {})
        check.expect(parent.get("name", "").startswith("orchestrator "),
                     f"{what}: the decision is a child of an orchestrator step: {parent.get('name')}")
        check.expect(attr(decide[0], "troupe.status") == "CONFIRMED", f"{what}: the decision span says CONFIRMED")
        status_pub = [s for s in spans if s["name"] == "publish order.status.changed"]
        check.expect(status_pub and status_pub[0].get("parentSpanId") == decide[0]["spanId"],
                     f"{what}: order.status.changed is published under the decision")


def main():
    check = Check()
    db = Database("e2e_tracing")
    broker = Broker(partitions=3)
    receiver = Receiver()
    endpoint = f"http://127.0.0.1:{receiver.port}"
    node = Node(db, broker, name="traced",
                extra=[f"--tracing.otlp-endpoint={endpoint}", "--log.level=debug", "--log.format=json"])
    try:
        node.start()
        # 1. A caller with its own trace.
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        caller = "00f067aa0ba902b7"
        status, body, answered = post(node.url, ORDER, {"traceparent": f"00-{trace_id}-{caller}-01"})
        oid = body["id"]
        m = TRACEPARENT_RE.match(answered)
        check.expect(status == 201 and m and m.group(1) == trace_id and m.group(2) != caller,
                     f"POST answers with the request's span in the caller's trace: {answered}")
        final = wait_final(db, [oid], timeout=30)
        check.expect(final.get(oid) == ("CONFIRMED", None) or (final.get(oid) or ("",))[0] == "CONFIRMED",
                     f"the traced order ended {final.get(oid)}")
        check.expect(wait_for(lambda: complete(receiver.trace(trace_id))),
                     f"every step's span arrived: {sorted(s['name'] for s in receiver.trace(trace_id))}")
        spans = receiver.trace(trace_id)
        log("spans of", oid, ":", sorted(s["name"] for s in spans))
        check_tree(check, spans, trace_id, caller, "POST /orders", "posted order")
        http_span = [s for s in spans if s["name"] == "POST /orders"]
        check.expect(http_span and http_span[0]["spanId"] == m.group(2) and attr(http_span[0], "troupe.order_id") == oid
                     and attr(http_span[0], "http.response.status_code") == "201",
                     "the HTTP span is the one the answer named, with the order id and status")
        check.expect(all(s["_resource"].get("service.name") == "troupe"
                         and s["_resource"].get("service.instance.id") == "traced" for s in spans),
                     "spans name the service and the node")

        _, shown = http("GET", f"{node.url}/orders/{oid}")
        check.expect(shown.get("trace_id") == trace_id, f"GET /orders/{{id}} names the trace: {shown.get('trace_id')}")

        # The context travels on Kafka as a header of every event.
        for topic in PUBLISHED:
            msgs = [h for k, v, h in broker.consume(topic) if k == oid]
            check.expect(msgs and all(f"traceparent={'00-' + trace_id}" in h for h in msgs),
                         f"{topic} of the order carries the trace in its traceparent header: {msgs}")

        # Its log lines carry the trace id.
        lines = [json.loads(x) for x in node.log_text().splitlines() if x.startswith("{")]
        about = [x for x in lines if x.get("order_id") == oid]
        check.expect(about and all(x.get("trace_id") == trace_id for x in about),
                     f"every log line of the order carries trace_id: {about}")

        # 2. No traceparent, and a malformed one: a new trace each.
        for headers in ({}, {"traceparent": "00-zz-not-a-trace-01"}):
            status, body, answered = post(node.url, ORDER, headers)
            m = TRACEPARENT_RE.match(answered)
            check.expect(status == 201 and m, f"POST with {headers} starts a trace: {answered}")
            if not m:
                continue
            wait_final(db, [body["id"]], timeout=30)
            check.expect(wait_for(lambda: complete(receiver.trace(m.group(1)))), f"the new trace of {headers} is complete")
            check_tree(check, receiver.trace(m.group(1)), m.group(1), "", "POST /orders", f"order with {headers}")

        # 3. Intake: the message's traceparent header is continued.
        intake_trace = "0af7651916cd43dd8448eb211c80319c"
        producer = "b7ad6b7169203331"
        value = json.dumps(dict(ORDER, customer_email="intake-trace@example.com"))
        subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", "orders.requested", "-k", "trace-ref-1",
                        "-H", f"traceparent=00-{intake_trace}-{producer}-01"], input=value.encode(), check=True)
        check.expect(wait_for(lambda: http("GET", f"{node.url}/orders?ref=trace-ref-1")[1]),
                     "the intake order was created")
        _, found = http("GET", f"{node.url}/orders?ref=trace-ref-1")
        if found:
            wait_final(db, [found[0]["id"]], timeout=30)
            check.expect(wait_for(lambda: complete(receiver.trace(intake_trace))),
                         f"the intake order's trace is complete: {sorted(s['name'] for s in receiver.trace(intake_trace))}")
            check_tree(check, receiver.trace(intake_trace), intake_trace, producer, "intake orders.requested",
                       "intake order")
        node.stop()

        # 4. The collector is gone: the saga does not wait for it; what
        # cannot be sent is dropped and counted.
        receiver.stop()
        node.start()
        ids = []
        t0 = time.time()
        for i in range(20):
            status, body, answered = post(node.url, dict(ORDER, customer_email=f"down{i}@example.com"), {})
            ids.append(body["id"])
        final = wait_final(db, ids, timeout=60)
        took = time.time() - t0
        check.expect(len(final) == 20 and all(v[0] == "CONFIRMED" for v in final.values()),
                     f"with the collector down every order completes: {len(final)} of 20 in {took:.1f} s")
        log(f"collector down: 20 orders final in {took:.1f} s")

        def dropped():
            total = 0.0
            for line in metrics_text(node).splitlines():
                if line.startswith("troupe_trace_spans_dropped_total{"):
                    total += float(line.rsplit(" ", 1)[1])
            return total

        check.expect(wait_for(lambda: dropped() > 0, timeout=20),
                     "spans that could not be sent are counted in troupe_trace_spans_dropped_total")
        log("dropped spans counted:", dropped())
        check.expect(node.stop() == 0, "the node stops cleanly with the collector down")
    finally:
        if node.proc and node.proc.poll() is None:
            node.stop()
        broker.stop()
    check.finish()


if __name__ == "__main__":
    main()
