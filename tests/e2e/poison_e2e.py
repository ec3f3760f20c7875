"""Fault: a poison message on every consumed topic. Each ends in its .dlq
topic with headers naming the original topic, partition and offset, the
error, the attempts, the failure times and the correlation id, while the node
keeps processing orders. Then a saga whose payment result never comes (the
payment role is not running) still ends: CANCELLED with timeout at the
deadline, its reserved stock released."""
import subprocess
import time

from troupe_env import (Broker, Check, Database, Node, check_status_events, http, log, order_mix, post_orders,
                        wait_final, wait_quiet)

TOPICS = ["order.created", "payment.result", "inventory.result", "order.status.changed", "inventory.release",
          "payment.refund", "order.cancel.requested"]


def main():
    check = Check()
    db = Database("e2e_poison")
    broker = Broker(partitions=3)
    # A step may have a retry policy of its own.
    # Operators list dead letters with the node's token.
    node = Node(db, broker, extra=["--saga.deadline=60s", "--retry.notification-max-attempts=9",
                                   "--retry.notification-cap=30s"],
                env={"TROUPE_HTTP_ADMIN_TOKEN": "poison-e2e-operator-token"})
    try:
        node.start()
        time.sleep(3)
        text = node.log_text()
        check.expect("notification: up to 9 attempt(s), retries after 100 ms x2 (at most 30000 ms)" in text,
                     "the notification step does not use its own retry policy")
        check.expect("payment: up to 5 attempt(s), retries after 100 ms x2 (at most 10000 ms)" in text,
                     "the payment step does not use the default retry policy")
        for topic in TOPICS:
            for junk in ["not json at all", '{"type": "%s", "event_id": "x"}' % topic]:
                subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", topic, "-k", "poison"],
                               input=junk, text=True, check=True)
        bodies = order_mix(60)
        ids = post_orders(node.url, bodies, key_prefix="p")
        final = wait_final(db, ids, timeout=60)
        check.expect(len(final) == len(ids), f"{len(ids) - len(final)} order(s) not final next to poison")
        deadline = time.time() + 30
        while time.time() < deadline and int(db.scalar("SELECT count(*) FROM dead_letters")) < 2 * len(TOPICS) + 2:
            time.sleep(0.5)
        rows = db.query("SELECT topic, count(*) FROM dead_letters GROUP BY 1")
        by_topic = {t: int(n) for t, n in rows}
        log("dead letters by topic:", by_topic)
        for topic in TOPICS:
            # order.created has three consumer groups (payment, inventory, analytics).
            want = 6 if topic == "order.created" else 2
            check.expect(by_topic.get(topic, 0) == want, f"{topic}: {by_topic.get(topic, 0)} dead letters, want {want}")
            check.expect(wait_quiet(db, 0, timeout=30), "outbox not drained")
            msgs = broker.consume(topic + ".dlq")
            check.expect(len(msgs) == want, f"{topic}.dlq holds {len(msgs)} messages, want {want}")
            for key, value, headers in msgs:
                for h in ["dlq.original.topic=" + topic, "dlq.original.partition=", "dlq.original.offset=",
                          "dlq.error=", "dlq.attempts=", "dlq.first.failure=", "dlq.last.failure=",
                          "correlation_id="]:
                    check.expect(h in headers, f"{topic}.dlq message without header {h.rstrip('=')}")
        status, _ = http("GET", node.url + "/admin/dead-letters")
        check.expect(status == 401, f"dead letters listed without the token: {status}")
        status, listed = http("GET", node.url + "/admin/dead-letters", headers=node.admin_headers())
        check.expect(status == 200 and len(listed) == sum(by_topic.values()), "dead letters not listed over HTTP")
        node.stop()

        # A node without the payment role: no payment result ever arrives.
        node2 = Node(db, broker, name="no-payment",
                     extra=["--saga.deadline=3s", '--node.roles=["api","inventory","orchestrator","notification"]'])
        node2.start()
        ids2 = post_orders(node2.url, [dict(b, quantity=1, amount_cents=1000) for b in order_mix(10)],
                           key_prefix="t")
        final2 = wait_final(db, ids2, timeout=60)
        check.expect(len(final2) == len(ids2), "sagas without a payment result did not end")
        check.expect(all(v == ("CANCELLED", "timeout") for v in final2.values()),
                     f"expected CANCELLED/timeout, got {set(final2.values())}")
        time.sleep(3)
        held = db.scalar("SELECT count(*) FROM reservations WHERE status = 'RESERVED' AND order_id IN (%s)"
                         % ",".join(f"'{i}'" for i in ids2))
        check.expect(held == "0", f"{held} reservation(s) of timed-out orders not released")
        check_status_events(check, broker, ids + ids2)
        node2.stop()
    finally:
        node.stop()
        broker.stop()
    check.finish()


if __name__ == "__main__":
    main()
