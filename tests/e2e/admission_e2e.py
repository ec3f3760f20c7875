"""End to end: admission control. A node without the payment role keeps its
orders open; with --saga.max-in-flight=5 the sixth POST /orders answers 503
`overloaded` with Retry-After at once, and an order produced to the intake
topic waits (no dead letter, not lost) instead of being created. When
customers cancel open orders, room frees up: the waiting intake order is
created and POSTs are accepted again. Each refusal is counted in
troupe_orders_shed_total by source."""
import json
import re
import time
import urllib.error
import urllib.request

from intake_e2e import produce
from troupe_env import Broker, Check, Database, Node, http, log, metrics_text, post_orders, wait_final

NO_PAYMENT = '--node.roles=["api","intake","inventory","orchestrator","notification"]'
BODY = {"customer_email": "held@example.com", "item_sku": "SKU-LAMP-01", "quantity": 1, "amount_cents": 1000}


def post(url, key):
    """POST /orders: (status, body, Retry-After, seconds taken)."""
    req = urllib.request.Request(url + "/orders", data=json.dumps(BODY).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Idempotency-Key": key})
    t0 = time.time()
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, json.loads(res.read()), None, time.time() - t0
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), e.headers.get("Retry-After"), time.time() - t0


def shed(node, source):
    m = re.search(r'^troupe_orders_shed_total\{source="' + source + r'"\} (\S+)$', metrics_text(node), re.M)
    return float(m.group(1)) if m else None


def held(db):
    return db.scalar("SELECT count(*) FROM orders WHERE idempotency_key = 'held-1'")


def main():
    check = Check()
    db = Database("e2e_admission")
    broker = Broker(partitions=3)
    node = Node(db, broker, name="bounded", extra=["--saga.deadline=120s", "--saga.max-in-flight=5", NO_PAYMENT])
    try:
        node.start()
        ids = post_orders(node.url, [BODY] * 5, concurrency=1, key_prefix="open")
        time.sleep(0.3)  # the gate counts the open orders every 50 ms
        status, body, retry_after, took = post(node.url, "over-1")
        log("sixth POST ->", status, body, f"Retry-After: {retry_after}", f"{took * 1000:.1f} ms")
        check.expect(status == 503 and body.get("error") == "overloaded", f"sixth POST -> {status} {body}")
        check.expect(retry_after is not None, "503 overloaded without Retry-After")
        check.expect(took < 0.5, f"the refusal took {took:.3f} s")
        check.expect(shed(node, "http") == 1, f"shed{{source=http}} = {shed(node, 'http')}")

        produce(broker, [("held-1", json.dumps(BODY).encode())])
        time.sleep(3)
        check.expect(held(db) == "0", "an intake order was created beyond saga.max-in-flight")
        check.expect((shed(node, "intake") or 0) >= 1, f"shed{{source=intake}} = {shed(node, 'intake')}")
        dead = db.scalar("SELECT count(*) FROM dead_letters WHERE topic = 'orders.requested'")
        check.expect(dead == "0", f"{dead} dead letter(s) for an order that had to wait")

        # Room frees up as open orders end: the waiting intake order goes
        # first, then POSTs are accepted again.
        for oid in ids[:2]:
            status, _ = http("POST", f"{node.url}/orders/{oid}/cancel", body=b"")
            check.expect(status == 202, f"cancel -> {status}")
        final = wait_final(db, ids[:2], timeout=30)
        check.expect(len(final) == 2, "the cancelled orders did not end")
        deadline = time.time() + 15
        while held(db) == "0" and time.time() < deadline:
            time.sleep(0.2)
        check.expect(held(db) == "1", "the waiting intake order was not created once there was room")
        status, body, _, _ = post(node.url, "over-2")
        check.expect(status == 201, f"a POST once there is room -> {status} {body}")
        log("shed:", {"http": shed(node, "http"), "intake": shed(node, "intake")})
    finally:
        node.stop()
        broker.stop()
    check.finish()


if __name__ == "__main__":
    main()
