"""/metrics after a known set of orders: the counters match what happened
(orders created, finalized by status and reason, POSTs by code, the
duration histogram's count) and the format is Prometheus text."""
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
        check.expect(ctype.startswith("text/plain"), f"content type {ctype}")
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
        # Consumer lag: one gauge per assigned partition; all caught up now.
        time.sleep(1.5)
        text, _ = scrape(node.url)
        lag = [l for l in text.splitlines() if l.startswith('troupe_consumer_lag{group="payment",topic="order.created"')]
        check.expect(len(lag) == 3, f"consumer lag of the payment group: {len(lag)} partition(s), expected 3")
        check.expect(all(l.endswith(" 0") for l in lag), f"payment consumer lags behind after all final: {lag}")
        log("metrics excerpt:\n" + "\n".join(l for l in text.splitlines()
                                             if l.startswith(("troupe_orders", "troupe_outbox", "troupe_consumer_lag"))))
    finally:
        node.stop()
        broker.stop()
    check.finish()


if __name__ == "__main__":
    main()
