"""End to end: one node, a few hundred orders covering every rule (a fifth of
them with several lines), a SIGKILL
of the node mid-run and a restart. Checks that every order is final and
follows the rules, that each has exactly one order.status.changed on Kafka,
that stock is conserved and that compensations happened at most once."""
import threading
import time

from troupe_env import (Broker, Check, Database, Node, check_rules, check_status_events, check_stock,
                        log, order_mix, post_orders, wait_final, wait_quiet)

DEFAULT_STOCK = 60  # small, so that out_of_stock happens too
ORDERS = 400


def main():
    check = Check()
    db = Database("e2e_saga")
    broker = Broker(partitions=6)
    node = Node(db, broker, extra=[f"--inventory.default-stock={DEFAULT_STOCK}", "--saga.deadline=60s"])
    try:
        node.start()
        bodies = order_mix(ORDERS, lines=True)
        first, second = bodies[:ORDERS // 2], bodies[ORDERS // 2:]
        t0 = time.time()
        ids = post_orders(node.url, first, key_prefix="a")
        log(f"posted {len(ids)} orders in {time.time() - t0:.1f}s")

        # Kill the node while the second half is being posted and processed.
        killer = threading.Timer(0.5, lambda: (node.kill(), log("node SIGKILLed")))
        killer.start()
        restarted = threading.Timer(2.0, lambda: node.start(wait=False))
        restarted.start()
        ids += post_orders(node.url, second, key_prefix="b")
        killer.join()
        restarted.join()
        node.wait_ready()
        log(f"posted {len(ids)} orders in all")

        final = wait_final(db, ids, timeout=120)
        log(f"final: {len(final)} of {len(ids)} after {time.time() - t0:.1f}s")
        check.expect(len(final) == len(ids), f"{len(ids) - len(final)} order(s) not final")
        check.expect(len(set(ids)) == len(ids), "an idempotency key created two orders")
        total = db.scalar("SELECT count(*) FROM orders")
        check.expect(int(total) == ORDERS, f"{total} orders stored, {ORDERS} posted")
        check_rules(check, bodies, ids, final, DEFAULT_STOCK)
        outcomes = {}
        for s in final.values():
            outcomes[s] = outcomes.get(s, 0) + 1
        log("outcomes:", outcomes)
        for expected in [("CONFIRMED", ""), ("CANCELLED", "payment_declined"),
                         ("CANCELLED", "quantity_limit"), ("CANCELLED", "out_of_stock")]:
            check.expect(outcomes.get(expected, 0) > 0, f"no order ended {expected}")

        check.expect(wait_quiet(db, ORDERS), "compensations and notifications did not complete")
        check_status_events(check, broker, ids)
        check_stock(check, db, DEFAULT_STOCK)
        refunds = db.scalar("SELECT count(*) FROM payments WHERE refunded_at IS NOT NULL")
        should = db.scalar("SELECT count(*) FROM orders o JOIN payments p ON p.order_id = o.id "
                           "WHERE o.status = 'CANCELLED' AND p.approved")
        check.expect(refunds == should, f"{refunds} refunds for {should} cancelled paid orders")
        dup_fx = db.scalar("SELECT count(*) FROM (SELECT order_id, kind FROM order_timeline WHERE kind IN "
                           "('payment.refunded', 'inventory.released', 'status.CONFIRMED', 'status.CANCELLED') "
                           "GROUP BY 1, 2 HAVING count(*) > 1) d")
        check.expect(dup_fx == "0", f"{dup_fx} duplicated effect(s) in timelines")
        notified = db.scalar("SELECT count(DISTINCT order_id) FROM notifications")
        check.expect(int(notified) == ORDERS, f"{notified} of {ORDERS} customers notified")
    finally:
        code = node.stop()
        broker.stop()
    check.expect(code == 0, f"node exited with {code} on SIGTERM")
    check.finish()


if __name__ == "__main__":
    main()
