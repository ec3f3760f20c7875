#!/usr/bin/env python3
"""A minimal OTLP/HTTP (JSON) trace receiver for looking at Troupe's traces
where no Jaeger or Tempo runs: start it, point a node at it with
--tracing.otlp-endpoint=http://127.0.0.1:4318, and each trace is printed as
a tree of spans (with durations and key attributes) once it has been quiet
for a moment.

    scripts/trace-view.py [--port 4318] [--trace TRACE_ID] [--quiet-ms 5000]
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SHOWN = ("troupe.order_id", "troupe.outcome", "troupe.status", "troupe.reason", "http.response.status_code",
         "messaging.kafka.partition", "messaging.kafka.offset")


def attrs(span):
    out = {}
    for a in span.get("attributes", []):
        v = a.get("value", {})
        out[a["key"]] = v.get("stringValue", v.get("intValue"))
    return out


def print_tree(trace_id, spans, out):
    by_parent = {}
    ids = {s["spanId"] for s in spans}
    for s in spans:
        parent = s.get("parentSpanId", "")
        by_parent.setdefault(parent if parent in ids else None, []).append(s)
    t0 = min(int(s["startTimeUnixNano"]) for s in spans)
    print(f"trace {trace_id} ({len(spans)} spans)", file=out)

    def walk(parent, depth):
        for s in sorted(by_parent.get(parent, []), key=lambda s: int(s["startTimeUnixNano"])):
            start = (int(s["startTimeUnixNano"]) - t0) / 1e6
            took = (int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"])) / 1e6
            a = attrs(s)
            extra = " ".join(f"{k.split('.')[-1]}={a[k]}" for k in SHOWN if a.get(k) not in (None, ""))
            err = " ERROR" if s.get("status", {}).get("code") == 2 else ""
            print(f"  {'  ' * depth}{s['name']}  +{start:.1f} ms, {took:.1f} ms{err}  {extra}", file=out)
            walk(s["spanId"], depth + 1)

    walk(None, 0)
    out.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=4318)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--trace", help="print only this trace id")
    ap.add_argument("--quiet-ms", type=int, default=5000, help="print a trace once it got no span for this long")
    args = ap.parse_args()
    traces, last = {}, {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                req = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            with lock:
                for rs in req.get("resourceSpans", []):
                    for ss in rs.get("scopeSpans", []):
                        for s in ss.get("spans", []):
                            if args.trace and s["traceId"] != args.trace:
                                continue
                            traces.setdefault(s["traceId"], []).append(s)
                            last[s["traceId"]] = time.time()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"receiving OTLP/HTTP JSON on http://{args.host}:{args.port}/v1/traces", file=sys.stderr)
    try:
        while True:
            time.sleep(0.2)
            now = time.time()
            with lock:
                done = [t for t, at in last.items() if now - at > args.quiet_ms / 1000]
                ready = [(t, traces.pop(t)) for t in done]
                for t in done:
                    del last[t]
            for t, spans in ready:
                print_tree(t, spans, sys.stdout)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
