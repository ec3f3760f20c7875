"""Fault: every broker is down when a node starts. The node starts anyway
(HTTP up, /ready 503 naming Kafka) instead of waiting for the partition
count; once the brokers answer, it learns the partition count of
payment.result, claims its partitions and rehydrates: a saga whose deadline
passed while nobody owned it is swept (CANCELLED, timeout) and new orders
complete."""
import time

from troupe_env import Broker, Check, Database, Node, http, log, order_mix, post_orders, wait_final

OVERDUE = "00000000-0000-4000-8000-000000000001"


def main():
    check = Check()
    db = Database("kafka_start")
    broker = Broker(partitions=6)
    node = Node(db, broker, extra=["--kafka.session-timeout=3s"])
    try:
        broker.command("down all")
        time.sleep(0.5)
        node.start(wait=False)
        started = time.time()
        health = None
        while time.time() - started < 15 and health != 200:
            try:
                health, _ = http("GET", node.url + "/health", timeout=2)
            except OSError:
                time.sleep(0.2)
        check.expect(health == 200, f"/health did not answer within 15 s of the start (last: {health})")
        log(f"node serving HTTP {time.time() - started:.1f}s after its start")
        status, body = http("GET", node.url + "/ready")
        log("/ready while Kafka is down:", status, body)
        check.expect(status == 503, f"/ready answered {status} while Kafka was down")
        # An order whose deadline passed while no node owned its partition.
        db.query("INSERT INTO orders (id, customer_email, item_sku, quantity, amount_cents, correlation_id, "
                 f"deadline_at) VALUES ('{OVERDUE}', 'late@example.com', 'SKU-CHAIR-01', 1, 100, 'corr-late', "
                 "now() - interval '1 minute') RETURNING id")
        time.sleep(5)
        check.expect(node.proc.poll() is None, "the node died while Kafka was down")
        log("brokers up")
        broker.command("up all")
        up = time.time()
        node.wait_ready(timeout=45)
        log(f"ready {time.time() - up:.1f}s after the brokers came back")
        text = node.log_text()
        check.expect("partitions: rehydrating sagas" in text, "the node did not learn the partition count later")
        final = wait_final(db, [OVERDUE], timeout=30)
        check.expect(final.get(OVERDUE) == ("CANCELLED", "timeout"),
                     f"the overdue saga was not swept: {final.get(OVERDUE)}")
        bodies = order_mix(20, seed=3)
        ids = post_orders(node.url, bodies, key_prefix="kstart")
        done = wait_final(db, ids, timeout=45)
        check.expect(len(done) == len(ids), f"{len(done)} of {len(ids)} new orders final")
    finally:
        code = node.stop()
        broker.stop()
    check.expect(code == 0, f"node exited with {code}")
    check.finish()


if __name__ == "__main__":
    main()
