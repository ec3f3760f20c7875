"""End to end, scaled out: three nodes share the work through consumer groups.
Orders go in through all three HTTP APIs; one node is SIGKILLed mid-run. Every
order must still reach a final status exactly once (one order.status.changed
each), with stock conserved for every SKU of every line (a fifth of the
orders have several lines). Reports the time from the kill to the last order
final. Then the killed node rejoins, takes partitions back and serves orders."""
import os
import threading
import time

from troupe_env import (Broker, Check, Database, check_rules, check_status_events, check_stock, log, order_mix,
                        post_orders, start_nodes, wait_final, wait_quiet)

DEFAULT_STOCK = 100
ORDERS = 600


def post_round_robin(nodes, bodies, key_prefix, concurrency=24):
    """Posts order i to node i % 3, failing over to the next node."""
    return post_orders([n.url for n in nodes], bodies, concurrency=concurrency, key_prefix=key_prefix)


def owns_partitions(node, after_bytes):
    path = os.path.join(node.log_dir, f"{node.db.name}-{node.name}-{node.starts}.log")
    with open(path) as f:
        f.seek(after_bytes)
        return "orchestrator: assigned" in f.read()


def main():
    check = Check()
    db = Database("e2e_cluster")
    broker = Broker(partitions=6)
    session = os.environ.get("TROUPE_E2E_SESSION_TIMEOUT", "6s")
    extra = [f"--inventory.default-stock={DEFAULT_STOCK}", "--saga.deadline=60s", f"--kafka.session-timeout={session}"]
    nodes = []
    try:
        nodes = start_nodes(db, broker, 3, extra)
        time.sleep(8)  # let the groups settle over the three members
        bodies = order_mix(ORDERS, seed=11, lines=True)
        victim = nodes[1]
        kill_at = {}

        def kill():
            victim.kill()
            kill_at["t"] = time.time()
            log(f"{victim.name} SIGKILLed")

        killer = threading.Timer(1.0, kill)
        killer.start()
        t0 = time.time()
        ids = post_round_robin(nodes, bodies, "c")
        killer.join()
        log(f"posted {len(ids)} orders through three APIs in {time.time() - t0:.1f}s")

        final = wait_final(db, ids, timeout=180)
        last = float(db.scalar("SELECT extract(epoch FROM max(finalized_at)) FROM orders"))
        log(f"final: {len(final)} of {len(ids)}; last order final {last - kill_at['t']:.1f}s after the kill "
            f"(kafka.session-timeout={session})")
        check.expect(len(final) == len(ids), f"{len(ids) - len(final)} order(s) not final")
        check.expect(int(db.scalar("SELECT count(*) FROM orders")) == ORDERS, "orders lost or duplicated")
        check_rules(check, bodies, ids, final, DEFAULT_STOCK)
        check.expect(wait_quiet(db, ORDERS, timeout=120), "compensations and notifications did not complete")
        check_status_events(check, broker, ids)
        check_stock(check, db, DEFAULT_STOCK)
        dup_fx = db.scalar("SELECT count(*) FROM (SELECT order_id, kind FROM order_timeline WHERE kind IN "
                           "('payment.refunded', 'inventory.released', 'status.CONFIRMED', 'status.CANCELLED') "
                           "GROUP BY 1, 2 HAVING count(*) > 1) d")
        check.expect(dup_fx == "0", f"{dup_fx} duplicated effect(s)")

        # Rejoin: the killed node starts again and takes partitions back.
        victim.start()
        deadline = time.time() + 60
        while time.time() < deadline and not owns_partitions(victim, 0):
            time.sleep(0.5)
        check.expect(owns_partitions(victim, 0), f"{victim.name} did not get partitions back")
        more = order_mix(60, seed=12, lines=True)
        more_ids = post_round_robin([victim], more, "r")
        final2 = wait_final(db, more_ids, timeout=120)
        check.expect(len(final2) == len(more_ids), f"{len(more_ids) - len(final2)} order(s) after the rejoin not final")
        check_rules(check, more, more_ids, final2, DEFAULT_STOCK)
    finally:
        codes = [n.stop() for n in nodes]
        broker.stop()
    check.expect(all(c == 0 for c in codes), f"nodes exited with {codes} on SIGTERM")
    check.finish()


if __name__ == "__main__":
    main()
