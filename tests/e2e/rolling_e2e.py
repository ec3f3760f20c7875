"""End to end: a rolling restart of three nodes under load. Each node in turn
gets SIGTERM (it drains and exits 0) and starts again while orders keep
coming through the other nodes' APIs. No order may be lost, stuck or
finalized twice."""
import threading
import time

from cluster_e2e import post_round_robin
from troupe_env import (Broker, Check, Database, check_rules, start_nodes, check_status_events, check_stock, log,
                        order_mix, wait_final, wait_quiet)

DEFAULT_STOCK = 100


def main():
    check = Check()
    db = Database("e2e_rolling")
    broker = Broker(partitions=6)
    extra = [f"--inventory.default-stock={DEFAULT_STOCK}", "--saga.deadline=60s", "--kafka.session-timeout=6s"]
    nodes = []
    try:
        nodes = start_nodes(db, broker, 3, extra)
        stop = threading.Event()
        posted = []
        bodies = []

        def load():
            batch = 0
            while not stop.is_set():
                more = order_mix(30, seed=100 + batch)
                posted.extend(post_round_robin(nodes, more, f"roll-{batch}", concurrency=6))
                bodies.extend(more)
                batch += 1
                time.sleep(0.2)

        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(2)
        for n in nodes:
            began = time.time()
            code = n.stop(timeout=15)
            took = time.time() - began
            log(f"{n.name} stopped with {code} in {took:.1f}s")
            check.expect(code == 0, f"{n.name} exited with {code} on SIGTERM")
            check.expect(took < 10, f"{n.name} took {took:.1f}s to drain (limit 10s)")
            n.start()
            time.sleep(3)
        stop.set()
        loader.join()
        log(f"posted {len(posted)} orders during the rolling restart")
        final = wait_final(db, posted, timeout=180)
        check.expect(len(final) == len(posted), f"{len(posted) - len(final)} order(s) not final")
        check.expect(int(db.scalar("SELECT count(*) FROM orders")) == len(posted), "orders lost or duplicated")
        check_rules(check, bodies, posted, final, DEFAULT_STOCK)
        check.expect(wait_quiet(db, len(posted), timeout=120), "compensations and notifications did not complete")
        check_status_events(check, broker, posted)
        check_stock(check, db, DEFAULT_STOCK)
        twice = db.scalar("SELECT count(*) FROM (SELECT order_id FROM order_timeline WHERE kind LIKE 'status.%' "
                          "GROUP BY 1 HAVING count(*) > 1) d")
        check.expect(twice == "0", f"{twice} order(s) finalized twice")
    finally:
        for n in nodes:
            n.stop()
        broker.stop()
    check.finish()


if __name__ == "__main__":
    main()
