"""/metrics after a known set of orders: the counters match what happened
(orders created, finalized by status and reason, POSTs by code, the
duration histogram's count) and the format is Prometheus text as scrapers
read it: the content type with its charset, bucket bounds in short form
(le="0.1"), troupe_build_info and the process metrics."""
import re
import time
import urllib.request

from troupe_env import Broker, Check, Database, Node, log, order_mix, post_orders, wait_final, wait_quiet

ORDERS = 50


def scrape(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as res:
        check_type = res.headers.get("Content-Type", "")
        return res.read().decode(), check_type


def value(text, name, **labels):
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r'^([a-z_]+)(\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None


def series(text, name):
    """Every sample of `name`: (labels, value)."""
    out = []
    for line in text.splitlines():
        m = re.match(r'^([a-z_]+)(\{(.*)\})? (\S+)$', line)
        if m and m.group(1) == name:
            out.append((dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or "")), float(m.group(4))))
    return out


def significant_digits(number):
    digits = re.sub(r'[^0-9]', '', number.split('e')[0].split('E')[0]).lstrip('0')
    return len(digits)


def main():
    check = Check()
    db = Database("e2e_metrics")
    broker = Broker(partitions=3)
    node = Node(db, broker)
    try:
        node.start()
        bodies = order_mix(ORDERS)
        ids = post_orders(node.url, bodies, key_prefix="m")
        final = wait_final(db, ids, timeout=60)
        check.expect(len(final) == ORDERS, "orders not final")
        wait_quiet(db, ORDERS)
        time.sleep(0.5)
        text, ctype = scrape(node.url)
        check.expect(ctype == "text/plain; version=0.0.4; charset=utf-8", f"content type {ctype}")
        check.expect("# TYPE troupe_orders_created_total counter" in text, "no TYPE line for orders created")
        check.expect(value(text, "troupe_orders_created_total") == ORDERS, "orders created counter")
        by = {}
        for s, r in final.values():
            by[(s, r or "none")] = by.get((s, r or "none"), 0) + 1
        for (s, r), n in by.items():
            got = value(text, "troupe_orders_finalized_total", status=s, reason=r)
            check.expect(got == n, f"finalized {s}/{r}: metric {got}, database {n}")
        check.expect(value(text, "troupe_order_duration_seconds_count") == ORDERS, "duration histogram count")
        check.expect(value(text, "troupe_http_requests_total", method="POST", route="/orders", code="201")
                     == ORDERS, "POST /orders 201 count")
        check.expect(value(text, "troupe_events_consumed_total", group="payment", topic="order.created")
                     == ORDERS, "payment consumer count")
        produced = value(text, "troupe_events_produced_total", topic="order.status.changed")
        check.expect(produced == ORDERS, f"order.status.changed produced {produced}")
        check.expect(value(text, "troupe_outbox_backlog") == 0, "outbox backlog")
        check.expect(value(text, "troupe_live_orchestrators") == 0, "live orchestrators after all final")
        # Bucket bounds as Prometheus users write them: le="0.1", never
        # 0.10000000000000001; each histogram series ends with +Inf.
        les = re.findall(r'_bucket\{[^}]*\ble="([^"]*)"', text)
        check.expect(len(les) > 0, "no histogram buckets")
        long_les = sorted({le for le in les if le != "+Inf" and significant_digits(le) > 6})
        check.expect(not long_les, f"long bucket bounds: {long_les}")
        check.expect(value(text, "troupe_order_duration_seconds_bucket", le="0.1") is not None,
                     'no troupe_order_duration_seconds_bucket{le="0.1"}')
        check.expect(value(text, "troupe_order_duration_seconds_bucket", le="+Inf") == ORDERS,
                     "duration histogram +Inf bucket")
        check.expect(value(text, "troupe_http_request_duration_seconds_bucket",
                           method="POST", route="/orders", le="0.25") is not None,
                     'no troupe_http_request_duration_seconds_bucket{le="0.25"} for POST /orders')
        # What this node runs, and the process it runs in.
        info = series(text, "troupe_build_info")
        check.expect(len(info) == 1 and info[0][1] == 1, f"troupe_build_info: {info}")
        if info:
            check.expect(re.match(r'^\d+\.\d+\.\d+', info[0][0].get("version", "")) is not None,
                         f"troupe_build_info version {info[0][0]}")
            check.expect(info[0][0].get("commit") and info[0][0].get("compiler"),
                         f"troupe_build_info commit and compiler {info[0][0]}")
        rss = value(text, "process_resident_memory_bytes")
        check.expect(rss is not None and rss > 1 << 20, f"process_resident_memory_bytes {rss}")
        check.expect("# TYPE process_resident_memory_bytes gauge" in text, "no TYPE line for resident memory")
        for name in ("process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds"):
            got = value(text, name)
            check.expect(got is not None and got > 0, f"{name} {got}")
        # Consumer lag: one gauge per assigned partition; all caught up now.
        time.sleep(1.5)
        text, _ = scrape(node.url)
        lag = [(l, v) for l, v in series(text, "troupe_consumer_lag")
               if l.get("group") == "payment" and l.get("topic") == "order.created"]
        check.expect(sorted(l.get("partition") for l, _ in lag) == ["0", "1", "2"],
                     f"consumer lag of the payment group: {lag}, expected partitions 0, 1, 2")
        check.expect(all(v == 0 for _, v in lag), f"payment consumer lags behind after all final: {lag}")
        log("metrics excerpt:\n" + "\n".join(l for l in text.splitlines()
                                             if l.startswith(("troupe_orders", "troupe_outbox", "troupe_consumer_lag"))))
    finally:
        node.stop()
        broker.stop()
    check.finish()


if __name__ == "__main__":
    main()
