"""End to end, scaled out: customers cancel open orders through any node of a
three-node cluster. The nodes share one database and one broker and have no
payment role, so every order stays open with its stock reserved. The cancels
go to the three APIs in turn, so most reach a node that does not own the
order's partition: the request is recorded where it arrives and reaches the
owner's orchestrator through order.cancel.requested. Each 202 answer is the
order, as GET /orders/{id} shows it. Right after the last cancel is answered
one node is SIGKILLed; the other two take over its partitions and finish its
orders. Every cancelled order ends CANCELLED / customer_cancelled exactly once,
with one cancel request, one order.status.changed and one release of its
stock; the orders nobody cancelled stay open and keep their stock; stock is
conserved for every SKU."""
import concurrent.futures
import os
import random
import re
import time

from cancel_e2e import NO_PAYMENT, cancel, check_order_answer
from troupe_env import (SKUS, Broker, Check, Database, body_lines, check_status_events, lines_body, log, post_orders,
                        start_nodes, wait_final, wait_quiet, wait_for)

DEFAULT_STOCK = 500
CANCELLED = 60  # orders the customers cancel
KEPT = 12  # orders nobody cancels: they stay open


def open_orders(n, seed):
    """Order bodies that break no rule (a quarter of them with several
    lines): without a payment result, each stays open once reserved."""
    rnd = random.Random(seed)
    bodies = []
    for i in range(n):
        if i % 4 == 1:
            bodies.append(lines_body(rnd, i, kind=0))
        else:
            bodies.append({"customer_email": f"cancel{i}@example.com", "item_sku": rnd.choice(SKUS),
                           "quantity": rnd.randint(1, 3), "amount_cents": rnd.randint(1000, 90000)})
    return bodies


def orchestrator_partitions(node):
    """Partitions the node's orchestrator holds after its last rebalance."""
    owned = 0
    for m in re.finditer(r"orchestrator: (assigned|revoked) (\d+) partition", node.log_text()):
        owned = int(m.group(2)) if m.group(1) == "assigned" else 0
    return owned




def count_per_order(db, sql):
    """{order id: count} of a query returning (order id, count) rows."""
    return {oid: int(n) for oid, n in db.query(sql)}


def main():
    check = Check()
    db = Database("e2e_cancel_cluster")
    broker = Broker(partitions=6)
    session = os.environ.get("TROUPE_E2E_SESSION_TIMEOUT", "6s")
    extra = [f"--inventory.default-stock={DEFAULT_STOCK}", "--saga.deadline=300s", f"--kafka.session-timeout={session}",
             NO_PAYMENT]
    nodes = []
    killed = []
    try:
        t0 = time.time()
        nodes = start_nodes(db, broker, 3, extra)
        check.expect(wait_for(lambda: all(orchestrator_partitions(n) > 0 for n in nodes), 30),
                     f"the orchestrators did not share the partitions: "
                     f"{[orchestrator_partitions(n) for n in nodes]}")
        bodies = open_orders(CANCELLED + KEPT, seed=21)
        ids = post_orders([n.url for n in nodes], bodies, key_prefix="cc")
        doomed, kept = ids[:CANCELLED], ids[CANCELLED:]
        check.expect(wait_for(lambda: db.scalar("SELECT count(*) FROM orders WHERE inventory_status = 'RESERVED' "
                                                "AND status = 'NEW'") == str(len(ids)), 30),
                     "the orders were not all reserved and open")
        log(f"{len(ids)} open orders reserved {time.time() - t0:.1f}s after the start")

        # Cancel i goes to node i % 3, whichever node owns the order.
        def send(i_oid):
            i, oid = i_oid
            url = nodes[i % len(nodes)].url
            status, body = cancel(url, oid)
            return url, oid, status, body

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(send, enumerate(doomed)))
        victim = nodes[1]
        held = orchestrator_partitions(victim)
        victim.kill()
        killed.append(victim)
        pending = int(db.scalar("SELECT count(*) FROM orders WHERE status = 'NEW' AND cancel_requested_at IS NOT NULL"))
        log(f"{len(answers)} cancels answered; {victim.name} (orchestrator of {held} partition(s)) SIGKILLed "
            f"with {pending} cancel(s) not yet done")
        shown = {}
        for _, _, status, body in answers:
            key = f"{status} {body.get('status') if isinstance(body, dict) else body}"
            shown[key] = shown.get(key, 0) + 1
        log("answers:", shown)
        refused = [(oid, status, body) for _, oid, status, body in answers if status != 202]
        check.expect(not refused, f"{len(refused)} cancel(s) not answered 202, e.g. {refused[:3]}")
        for _, oid, status, body in answers[:9]:  # three answers of each node
            if status == 202:
                check_order_answer(check, nodes[0].url, oid, body)
        bad_body = [oid for _, oid, status, body in answers
                    if status == 202 and not (isinstance(body, dict) and body.get("id") == oid
                                              and isinstance(body.get("items"), list)
                                              and isinstance(body.get("timeline"), list))]
        check.expect(not bad_body, f"{len(bad_body)} 202 answer(s) without the order, e.g. {bad_body[:3]}")

        t1 = time.time()
        final = wait_final(db, doomed, timeout=60)
        log(f"{len(final)} of {len(doomed)} cancelled orders final {time.time() - t1:.1f}s after the kill "
            f"(kafka.session-timeout={session})")
        wrong = {oid: final.get(oid) for oid in doomed if final.get(oid) != ("CANCELLED", "customer_cancelled")}
        check.expect(not wrong, f"{len(wrong)} cancelled order(s) did not end CANCELLED/customer_cancelled: "
                                f"{list(wrong.items())[:3]}")
        check.expect(wait_quiet(db, len(doomed), timeout=30), "releases and notifications did not complete")

        # Exactly once: one cancel request, one final status, one release.
        quoted = ", ".join(f"'{oid}'" for oid in doomed)
        for kind in ("cancel.requested", "status.CANCELLED", "inventory.released"):
            counts = count_per_order(db, f"SELECT order_id, count(*) FROM order_timeline WHERE kind = '{kind}' "
                                         f"AND order_id IN ({quoted}) GROUP BY 1")
            off = {oid: counts.get(oid, 0) for oid in doomed if counts.get(oid, 0) != 1}
            check.expect(not off, f"{len(off)} order(s) without exactly one {kind}: {list(off.items())[:3]}")
        events = count_per_order(db, "SELECT key, count(*) FROM outbox WHERE topic = 'order.cancel.requested' "
                                     "GROUP BY 1")
        off = {oid: events.get(oid, 0) for oid in doomed if events.get(oid, 0) != 1}
        check.expect(not off, f"{len(off)} order(s) without exactly one order.cancel.requested: {list(off.items())[:3]}")
        check.expect(not set(events) & set(kept), "an order nobody cancelled has an order.cancel.requested")
        check_status_events(check, broker, doomed)
        held_back = db.scalar(f"SELECT count(*) FROM reservations WHERE order_id IN ({quoted}) "
                              f"AND status <> 'RELEASED'")
        check.expect(held_back == "0", f"{held_back} reservation(s) of cancelled orders not RELEASED")
        reserved_lines = sum(len(body_lines(b)) for b in bodies[:CANCELLED])
        rows = db.scalar(f"SELECT count(*) FROM reservations WHERE order_id IN ({quoted})")
        check.expect(rows == str(reserved_lines), f"{rows} reservation row(s) of cancelled orders, "
                                                  f"want one per line ({reserved_lines})")

        # The orders nobody cancelled are untouched: open, stock still held.
        kept_q = ", ".join(f"'{oid}'" for oid in kept)
        still = db.scalar(f"SELECT count(*) FROM orders WHERE id IN ({kept_q}) AND status = 'NEW' "
                          f"AND cancel_requested_at IS NULL")
        check.expect(still == str(len(kept)), f"{still} of {len(kept)} uncancelled order(s) still open")

        # Stock: what the open orders hold is all that is missing, per SKU.
        want = {sku: 0 for sku in SKUS}
        for body in bodies[CANCELLED:]:
            for sku, quantity, _ in body_lines(body):
                want[sku] += quantity
        stock = {sku: (int(a), int(h)) for sku, a, h in db.query(
            "SELECT s.sku, s.available, COALESCE((SELECT sum(r.quantity) FROM reservations r "
            "WHERE r.sku = s.sku AND r.status = 'RESERVED'), 0) FROM stock s")}
        for sku, held_qty in want.items():
            available, reserved = stock.get(sku, (DEFAULT_STOCK, 0))
            check.expect(available == DEFAULT_STOCK - held_qty and reserved == held_qty,
                         f"stock of {sku}: available {available}, held {reserved}; want "
                         f"{DEFAULT_STOCK - held_qty} and {held_qty}")
        dead = db.scalar("SELECT count(*) FROM dead_letters")
        check.expect(dead == "0", f"{dead} dead letter(s)")
        log(f"done {time.time() - t0:.1f}s after the start")
    finally:
        codes = [n.stop() for n in nodes]
        codes = [c for n, c in zip(nodes, codes) if n not in killed]
        broker.stop()
    check.expect(all(c == 0 for c in codes), f"the surviving nodes exited with {codes} on SIGTERM")
    check.finish()


if __name__ == "__main__":
    main()
