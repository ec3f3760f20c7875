"""End to end: a customer cancels an order. A node without the payment role
keeps an order open after its stock is reserved; POST /orders/{id}/cancel
answers 202 with the order (the body GET /orders/{id} answers), the order's orchestrator (reached through
order.cancel.requested) ends it CANCELLED / customer_cancelled and releases
the stock once; cancelling again answers 409 with the final status; an
unknown order 404, a malformed id 400. A node with every role then handles
the order's payment, which arrives after the cancel: it is refunded once. An
order that is CONFIRMED cannot be cancelled (409) and stays CONFIRMED."""
import time

from troupe_env import Broker, Check, Database, Node, http, log, post_orders, wait_final, wait_for

NO_PAYMENT = '--node.roles=["api","inventory","orchestrator","notification"]'


def cancel(url, oid):
    return http("POST", f"{url}/orders/{oid}/cancel", body=b"")


def check_order_answer(check, url, oid, body):
    """A 202 answer to a cancel is the order as GET /orders/{id} shows it:
    the same keys, its lines and its timeline with the cancel request, still
    open (or already cancelled, when its orchestrator was that quick)."""
    if not check.expect(isinstance(body, dict), f"the 202 answer is not an object: {body}"):
        return
    status, order = http("GET", f"{url}/orders/{oid}")
    check.expect(status == 200 and isinstance(order, dict) and set(body) == set(order),
                 f"the 202 answer has the keys of GET /orders/{{id}}: {sorted(body)} vs "
                 f"{sorted(order) if isinstance(order, dict) else order}")
    check.expect(body.get("id") == oid and body.get("correlation_id")
                 and (body.get("status"), body.get("reason")) in (("NEW", None),
                                                                  ("CANCELLED", "customer_cancelled")),
                 f"the 202 answer carries the open order: {body}")
    check.expect(isinstance(body.get("items"), list) and len(body["items"]) >= 1
                 and all(i.get("sku") for i in body["items"]), f"the 202 answer has the order's items: {body}")
    kinds = [t.get("kind") for t in body.get("timeline") or []]
    check.expect(kinds.count("cancel.requested") == 1,
                 f"the 202 answer's timeline has the cancel request once: {kinds}")
    check.expect(body.get("cancel_requested_at"), f"the 202 answer says when the cancel was asked: {body}")




def main():
    check = Check()
    db = Database("e2e_cancel")
    broker = Broker(partitions=3)
    node = Node(db, broker, name="no-payment", extra=["--saga.deadline=120s", NO_PAYMENT])
    try:
        node.start()
        [oid] = post_orders(node.url, [{"customer_email": "cancel@example.com", "item_sku": "SKU-LAMP-01",
                                        "quantity": 2, "amount_cents": 4590}], key_prefix="cancel")
        check.expect(wait_for(lambda: db.scalar(f"SELECT inventory_status FROM orders WHERE id = '{oid}'")
                              == "RESERVED"), "the stock of the order was not reserved")
        status, body = cancel(node.url, oid)
        log("cancel ->", status, body)
        check.expect(status == 202, f"POST /orders/{{id}}/cancel -> {status}, want 202")
        check_order_answer(check, node.url, oid, body)
        # Repeating it changes nothing: 202 (the order again) while the
        # request is pending, 409 once the orchestrator ended the order.
        status, body = cancel(node.url, oid)
        check.expect(status in (202, 409), f"a repeated cancel -> {status}")
        if status == 202:
            check_order_answer(check, node.url, oid, body)
        final = wait_final(db, [oid], timeout=30)
        check.expect(final.get(oid) == ("CANCELLED", "customer_cancelled"),
                     f"the cancelled order ended {final.get(oid)}")
        status, order = http("GET", f"{node.url}/orders/{oid}")
        check.expect(status == 200 and order.get("status") == "CANCELLED"
                     and order.get("reason") == "customer_cancelled",
                     f"GET /orders/{{id}} -> {status} {order.get('status')} {order.get('reason')}")
        kinds = [t.get("kind") for t in order.get("timeline", [])] if status == 200 else []
        check.expect(kinds.count("cancel.requested") == 1, f"one cancel.requested on the timeline: {kinds}")
        check.expect(kinds.count("status.CANCELLED") == 1, f"one status.CANCELLED on the timeline: {kinds}")
        check.expect(wait_for(lambda: db.scalar(f"SELECT status FROM reservations WHERE order_id = '{oid}'")
                              == "RELEASED"), "the reservation of the cancelled order was not released")
        status, body = cancel(node.url, oid)
        check.expect(status == 409 and isinstance(body, dict) and body.get("status") == "CANCELLED"
                     and body.get("reason") == "customer_cancelled" and body.get("error"),
                     f"cancelling a final order -> {status} {body}")
        events = db.scalar(f"SELECT count(*) FROM outbox WHERE topic = 'order.cancel.requested' AND key = '{oid}'")
        check.expect(events == "1", f"{events} order.cancel.requested event(s), want 1")
        status, body = cancel(node.url, "00000000-0000-4000-8000-00000000cafe")
        check.expect(status == 404 and isinstance(body, dict) and body.get("error") == "not_found",
                     f"cancelling an unknown order -> {status} {body}")
        status, body = cancel(node.url, "not-an-id")
        check.expect(status == 400 and isinstance(body, dict) and body.get("error") == "invalid_parameter",
                     f"cancelling with a malformed id -> {status} {body}")
        node.stop()

        # Every role: the payment of the cancelled order arrives late and is
        # refunded; a confirmed order cannot be cancelled.
        full = Node(db, broker, name="all-roles", extra=["--saga.deadline=60s"])
        try:
            full.start()
            check.expect(wait_for(lambda: db.scalar(f"SELECT refunded_at IS NOT NULL FROM payments "
                                                    f"WHERE order_id = '{oid}'") == "t", timeout=60),
                         "the late payment of the cancelled order was not refunded")
            refunds = db.scalar(f"SELECT count(*) FROM order_timeline WHERE order_id = '{oid}' "
                                f"AND kind = 'payment.refunded'")
            check.expect(refunds == "1", f"{refunds} refund(s) of the cancelled order, want 1")
            check.expect(db.scalar(f"SELECT status || '/' || reason FROM orders WHERE id = '{oid}'")
                         == "CANCELLED/customer_cancelled", "the late payment changed the cancelled order")
            [done] = post_orders(full.url, [{"customer_email": "keep@example.com", "item_sku": "SKU-DESK-01",
                                             "quantity": 1, "amount_cents": 1000}], key_prefix="keep")
            final = wait_final(db, [done], timeout=60)
            check.expect(final.get(done) == ("CONFIRMED", ""), f"the second order ended {final.get(done)}")
            status, body = cancel(full.url, done)
            check.expect(status == 409 and isinstance(body, dict) and body.get("status") == "CONFIRMED",
                         f"cancelling a confirmed order -> {status} {body}")
            time.sleep(1)
            check.expect(db.scalar(f"SELECT status FROM orders WHERE id = '{done}'") == "CONFIRMED",
                         "a refused cancel changed the confirmed order")
            check.expect(db.scalar(f"SELECT count(*) FROM outbox WHERE topic = 'order.cancel.requested' "
                                   f"AND key = '{done}'") == "0", "a refused cancel wrote an event")
        finally:
            full.stop()
    finally:
        node.stop()
        broker.stop()
    check.finish()


if __name__ == "__main__":
    main()
