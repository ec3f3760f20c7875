"""End to end on the in-memory event bus: `troupe-node --engine.mode=memory`
runs the whole saga without Kafka and PostgreSQL (it is pointed at ports
where nothing listens, to show it uses neither). Through the real HTTP API:
orders become final by the business rules (CONFIRMED; CANCELLED with
payment_declined, quantity_limit, out_of_stock once the stock is spent) with
their timelines and lines; a duplicate Idempotency-Key answers the same
order; a malformed body gets a 4xx JSON error; /health, /ready and /metrics
answer; on a node without the payment role an order stays open, a cancel
ends it CANCELLED / customer_cancelled and releases its stock, and
saga.max-in-flight refuses new orders with 503 while the open ones fill it;
SIGTERM exits 0, and the log says the state was in memory only."""
import os
import urllib.request

from troupe_env import BUILD, NODE, Check, Node, http, log, wait_for

# Nothing listens here: the node must not need either.
NOWHERE = ["--postgres.url=postgresql://nobody@127.0.0.1:9/none", "--kafka.brokers=127.0.0.1:9"]
NO_PAYMENT = '--node.roles=["api","inventory","orchestrator","notification","analytics"]'


class MemoryNode(Node):
    """A node on the in-memory bus: no database, no broker."""

    def __init__(self, name, extra=()):
        super().__init__(None, None, name=name, extra=extra, log_dir=os.path.join(BUILD, "testenv-memory"))

    @property
    def log_path(self):
        return os.path.join(self.log_dir, f"{self.name}-{os.getpid()}-{self.starts}.log")

    def args(self):
        return [NODE, "--engine.mode=memory", f"--http.port={self.port}", "--http.host=127.0.0.1",
                f"--node.id={self.name}"] + NOWHERE + self.extra


def post(node, body, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return http("POST", node.url + "/orders", body, headers)


def order(node, oid):
    return http("GET", f"{node.url}/orders/{oid}")


def final_order(node, oid, timeout=20):
    """The order once it is final (or as it is after `timeout`)."""
    last = {}

    def done():
        nonlocal last
        status, body = order(node, oid)
        last = body if status == 200 else {}
        return last.get("status") in ("CONFIRMED", "CANCELLED")
    wait_for(done, timeout)
    return last


def kinds(o):
    return [t.get("kind") for t in o.get("timeline") or []]


def saga_suite(check):
    node = MemoryNode("memory-1", ["--inventory.default-stock=5", "--saga.deadline=30s"]).start()
    try:
        check.expect(http("GET", node.url + "/health")[0] == 200, "/health answers 200")
        status, ready = http("GET", node.url + "/ready")
        check.expect(status == 200 and ready.get("status") == "ready", f"/ready -> {status} {ready}")

        chair = {"customer_email": "a@example.com", "item_sku": "SKU-CHAIR-01", "quantity": 3,
                 "amount_cents": 14990}
        status, created = post(node, chair, key="memory-1")
        check.expect(status in (200, 201) and created.get("status") == "NEW" and created.get("id"),
                     f"POST /orders -> {status} {created}")
        oid = created.get("id")
        status, again = post(node, chair, key="memory-1")
        check.expect(status in (200, 201) and again.get("id") == oid,
                     f"the same Idempotency-Key answers the same order: {status} {again} vs {oid}")

        o = final_order(node, oid)
        check.expect((o.get("status"), o.get("reason")) == ("CONFIRMED", None),
                     f"enough stock and a small amount: CONFIRMED, got {o.get('status')} {o.get('reason')}")
        check.expect(o.get("payment_status") == "APPROVED" and o.get("inventory_status") == "RESERVED",
                     f"payment and inventory of the confirmed order: {o}")
        check.expect(kinds(o)[:1] == ["created"] and "status.CONFIRMED" in kinds(o)
                     and "payment.approved" in kinds(o) and "inventory.reserved" in kinds(o),
                     f"the timeline of the confirmed order: {kinds(o)}")
        check.expect([i.get("reservation") for i in o.get("items", [])] == ["RESERVED"],
                     f"its line is reserved: {o.get('items')}")
        check.expect(o.get("ref") == "memory-1" and o.get("finalized_at") and o.get("created_at"),
                     f"its reference and times: {o}")
        check.expect(wait_for(lambda: "notification.sent" in kinds(order(node, oid)[1]), 10),
                     "the customer of the confirmed order was notified")

        # 3 of 5 units are reserved: 3 more are short of stock.
        cases = [
            ({"customer_email": "b@example.com", "item_sku": "SKU-CHAIR-01", "quantity": 3,
              "amount_cents": 1000}, "out_of_stock"),
            ({"customer_email": "c@example.com", "item_sku": "SKU-LAMP-01", "quantity": 11,
              "amount_cents": 1000}, "quantity_limit"),
            ({"customer_email": "d@example.com", "item_sku": "SKU-LAMP-01", "quantity": 1,
              "amount_cents": 150000}, "payment_declined"),
        ]
        for body, reason in cases:
            status, created = post(node, body)
            if not check.expect(status in (200, 201), f"POST {body} -> {status} {created}"):
                continue
            o = final_order(node, created["id"])
            check.expect((o.get("status"), o.get("reason")) == ("CANCELLED", reason),
                         f"{body} ends CANCELLED {reason}, got {o.get('status')} {o.get('reason')}")
            check.expect("status.CANCELLED" in kinds(o), f"its timeline: {kinds(o)}")
            if reason == "out_of_stock":
                check.expect([i.get("reservation") for i in o.get("items", [])] == ["SHORT"],
                             f"its line is short of stock: {o.get('items')}")

        status, err = http("POST", node.url + "/orders", b"{not json")
        check.expect(400 <= status < 500 and isinstance(err, dict) and err.get("error"),
                     f"a malformed body -> {status} {err}")
        status, err = post(node, {"customer_email": "e@example.com", "item_sku": "SKU-LAMP-01", "quantity": 0,
                                  "amount_cents": 100})
        check.expect(400 <= status < 500 and isinstance(err, dict) and err.get("error"),
                     f"a quantity of 0 -> {status} {err}")
        status, listed = http("GET", node.url + "/orders?limit=10")
        check.expect(status == 200 and isinstance(listed, list) and len(listed) == 4,
                     f"GET /orders lists the 4 orders: {status} {listed if status != 200 else len(listed)}")
        status, missing = order(node, "00000000-0000-4000-8000-000000000000")
        check.expect(status == 404, f"an unknown order -> {status} {missing}")

        with urllib.request.urlopen(node.url + "/metrics", timeout=10) as res:
            metrics = res.read().decode()
        check.expect("troupe_outbox_backlog" in metrics and "troupe_http_requests_total" in metrics,
                     "/metrics has the outbox backlog and the HTTP figures")
    finally:
        code = node.stop()
    check.expect(code == 0, f"SIGTERM: exit code {code}, want 0")
    text = node.log_text()
    check.expect("lost at exit" in text, "the log says the state is lost at exit")
    check.expect("ERROR" not in text.upper().replace("ERRORS", ""), "no error in the log")


def cancel_and_admission_suite(check):
    # Without the payment role an order stays open after its stock is
    # reserved; two open orders fill saga.max-in-flight.
    node = MemoryNode("memory-2", [NO_PAYMENT, "--saga.max-in-flight=2", "--saga.deadline=120s"]).start()
    try:
        ids = []
        for i in range(2):
            status, created = post(node, {"customer_email": f"o{i}@example.com", "item_sku": "SKU-DESK-01",
                                          "quantity": 1, "amount_cents": 5000})
            check.expect(status in (200, 201), f"open order {i}: {status} {created}")
            ids.append(created.get("id"))
        status, shed = post(node, {"customer_email": "x@example.com", "item_sku": "SKU-DESK-01", "quantity": 1,
                                   "amount_cents": 5000})
        check.expect(status == 503 and isinstance(shed, dict) and shed.get("error") == "overloaded",
                     f"a third order while two are open (saga.max-in-flight=2) -> {status} {shed}")
        oid = ids[0]
        check.expect(wait_for(lambda: order(node, oid)[1].get("inventory_status") == "RESERVED", 10),
                     "the stock of the open order was reserved")
        status, body = http("POST", f"{node.url}/orders/{oid}/cancel", body=b"")
        check.expect(status == 202 and isinstance(body, dict) and body.get("id") == oid
                     and body.get("cancel_requested_at"), f"cancel of an open order -> {status} {body}")
        o = final_order(node, oid)
        check.expect((o.get("status"), o.get("reason")) == ("CANCELLED", "customer_cancelled"),
                     f"the cancelled order ends {o.get('status')} {o.get('reason')}")
        check.expect(kinds(o).count("cancel.requested") == 1, f"one cancel request on the timeline: {kinds(o)}")
        check.expect(wait_for(lambda: [i.get("reservation") for i in order(node, oid)[1].get("items", [])]
                              == ["RELEASED"], 10), "the stock of the cancelled order was released")
        status, body = http("POST", f"{node.url}/orders/{oid}/cancel", body=b"")
        check.expect(status == 409 and body.get("status") == "CANCELLED", f"cancelling it again -> {status} {body}")
        # One order left open: room for one more.
        check.expect(wait_for(lambda: post(node, {"customer_email": "y@example.com", "item_sku": "SKU-DESK-01",
                                                  "quantity": 1, "amount_cents": 5000})[0] in (200, 201), 10),
                     "a new order is admitted once an open one ended")
    finally:
        code = node.stop()
    check.expect(code == 0, f"SIGTERM: exit code {code}, want 0")


def main():
    check = Check()
    saga_suite(check)
    cancel_and_admission_suite(check)
    check.finish()


if __name__ == "__main__":
    main()
