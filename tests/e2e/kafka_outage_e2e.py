"""Fault: every Kafka broker goes down for 20 s under load. Orders are still
accepted (into the outbox); when the brokers return, the outbox drains and
every saga completes, each exactly once."""
import threading
import time

from troupe_env import (Broker, Check, Database, Node, check_status_events, check_stock, http, log, order_mix,
                        wait_final, wait_quiet)

DEFAULT_STOCK = 1000000


def main():
    check = Check()
    db = Database("e2e_kafka_outage")
    broker = Broker(partitions=6)
    node = Node(db, broker, extra=["--saga.deadline=120s"])
    accepted = []
    during = {"posts": 0, "accepted": 0}
    outage = threading.Event()
    stop = threading.Event()

    def load():
        i = 0
        while not stop.is_set():
            try:
                status, res = http("POST", node.url + "/orders", order_mix(1, seed=i)[0],
                                   {"Idempotency-Key": f"k-{i}"}, timeout=15)
            except OSError:
                status, res = 0, None
            if status in (200, 201):
                accepted.append(res["id"])
                i += 1
                if outage.is_set():
                    during["accepted"] += 1
            if outage.is_set():
                during["posts"] += 1
            time.sleep(0.01)

    try:
        node.start()
        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(3)
        broker.command("down all")
        outage.set()
        log("brokers down")
        time.sleep(20)
        check.expect(node.proc.poll() is None, "the node died while Kafka was down")
        backlog = int(db.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
        broker.command("up all")
        recovered = time.time()
        outage.clear()
        log(f"brokers up; {during['accepted']} of {during['posts']} POSTs accepted during the outage, "
            f"outbox backlog {backlog}")
        check.expect(during["accepted"] > 0, "no order accepted while Kafka was down")
        time.sleep(2)
        stop.set()
        loader.join()
        final = wait_final(db, accepted, timeout=180)
        log(f"{len(final)} of {len(accepted)} accepted orders final, {time.time() - recovered:.1f}s after recovery")
        check.expect(len(final) == len(accepted), f"{len(accepted) - len(final)} accepted order(s) lost or stuck")
        check.expect(wait_quiet(db, len(accepted), timeout=120), "the saga's tail did not complete")
        check_status_events(check, broker, accepted)
        check_stock(check, db, DEFAULT_STOCK)
        reasons = db.query("SELECT COALESCE(reason, ''), count(*) FROM orders GROUP BY 1")
        log("reasons:", reasons)
    finally:
        stop.set()
        code = node.stop()
        broker.stop()
    check.expect(code == 0, f"node exited with {code}")
    check.finish()


if __name__ == "__main__":
    main()
