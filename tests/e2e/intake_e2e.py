"""End to end: orders arriving on Kafka. Orders produced with kcat to
orders.requested (keyed by the client's reference) are created by the intake
role and follow the saga like posted ones. A duplicate key, a message
produced twice with the same `idempotency_key` field and no key, and
redeliveries after a SIGKILL each create one order; invalid JSON, a missing
field, bytes that are not UTF-8 and a message without any reference become
dead letters on orders.requested.dlq (the validation error in the dlq.error
header) and in dead_letters, and their offsets move on. An order posted over
HTTP with an Idempotency-Key has that key as its `ref`; GET /orders?ref=
finds orders by reference; order.created carries the reference."""
import json
import subprocess
import time

from troupe_env import (Broker, Check, Database, Node, check_rules, check_stock, http, log, order_mix,
                        post_orders, wait_final, wait_lag_zero, wait_quiet)

TOPIC = "orders.requested"
STOCK = 1_000_000


def produce(broker, messages):
    """Produces (key, value bytes) messages in one kcat run; key None: no key."""
    keyed = [(k, v) for k, v in messages if k is not None]
    plain = [v for k, v in messages if k is None]
    if keyed:
        data = b"".join(k.encode() + b"\t" + v + b"\n" for k, v in keyed)
        subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", TOPIC, "-K", "\t"], input=data, check=True)
    if plain:
        subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", TOPIC], input=b"\n".join(plain) + b"\n",
                       check=True)


def dlq_headers(broker):
    """{key: headers} of every message on the intake's .dlq topic (values
    keep the exact bytes, which need not be text)."""
    out = subprocess.run(["kcat", "-b", broker.bootstrap, "-C", "-t", TOPIC + ".dlq", "-o", "beginning", "-e", "-q",
                          "-f", "%k\t%h\n"], capture_output=True, timeout=30, check=True).stdout
    rows = [line.split(b"\t", 1) for line in out.split(b"\n") if line]
    return [(k.decode(errors="replace"), h.decode(errors="replace")) for k, h in rows]


def by_ref(url, ref):
    status, body = http("GET", f"{url}/orders?ref={ref}")
    return body if status == 200 else None


def ids_of(db, refs):
    """{ref: [order ids]} for every ref, from the database."""
    rows = db.query("SELECT idempotency_key, id FROM orders WHERE idempotency_key IS NOT NULL")
    found = {}
    for ref, oid in rows:
        found.setdefault(ref, []).append(oid)
    return {r: found.get(r, []) for r in refs}


def wait_created(db, refs, timeout=60):
    deadline = time.time() + timeout
    while True:
        got = ids_of(db, refs)
        if all(got.values()) or time.time() > deadline:
            return got
        time.sleep(0.3)


def main():
    check = Check()
    db = Database("e2e_intake")
    broker = Broker(partitions=3)
    node = Node(db, broker, name="intake-1", extra=["--saga.deadline=60s"])
    try:
        node.start()
        bodies = order_mix(60, seed=11)
        refs = [f"kafka-{i}" for i in range(len(bodies))]
        produce(broker, [(r, json.dumps(b).encode()) for r, b in zip(refs, bodies)])
        # The same key again (another body: the first one stands), and a
        # reference given as a field, produced twice without a key.
        produce(broker, [("kafka-0", json.dumps(dict(bodies[1], customer_email="again@example.com")).encode())])
        field = dict(bodies[2], idempotency_key="field-ref-1")
        produce(broker, [(None, json.dumps(field).encode()), (None, json.dumps(field).encode())])
        bad = {"bad-json": b'{"customer_email": "x@example.com", "item_sku": ',
               "bad-missing": json.dumps({"customer_email": "m@example.com", "item_sku": "SKU-LAMP-01",
                                          "amount_cents": 100}).encode(),
               "bad-bytes": b'{"customer_email": "\xff\xfe@example.com", "item_sku": "SKU-LAMP-01", '
                            b'"quantity": 1, "amount_cents": 100}'}
        produce(broker, list(bad.items()))
        produce(broker, [(None, json.dumps(bodies[3]).encode())])  # no reference at all

        got = wait_created(db, refs + ["field-ref-1"])
        missing = [r for r, ids in got.items() if not ids]
        twice = {r: ids for r, ids in got.items() if len(ids) > 1}
        check.expect(not missing, f"{len(missing)} intake order(s) not created: {missing[:5]}")
        check.expect(not twice, f"reference(s) with more than one order: {twice}")
        ids = [got[r][0] for r in refs if got[r]]
        final = wait_final(db, ids, timeout=90)
        check.expect(len(final) == len(ids), f"{len(ids) - len(final)} intake order(s) not final")
        check_rules(check, bodies, ids, final, STOCK)
        first = db.scalar(f"SELECT customer_email FROM orders WHERE idempotency_key = 'kafka-0'")
        check.expect(first == bodies[0]["customer_email"], f"the duplicate key changed the order: {first}")

        # Found by reference, with the reference shown.
        found = by_ref(node.url, "kafka-5")
        check.expect(isinstance(found, list) and len(found) == 1 and found[0].get("ref") == "kafka-5"
                     and found[0].get("id") == got["kafka-5"][0], f"GET /orders?ref=kafka-5 -> {found}")
        check.expect(by_ref(node.url, "no-such-ref") == [], "an unknown ref does not answer []")
        status, body = http("GET", f"{node.url}/orders?ref=")
        check.expect(status == 400 and isinstance(body, dict) and body.get("error") == "invalid_parameter",
                     f"GET /orders?ref= (empty) -> {status} {body}")
        status, order = http("GET", f"{node.url}/orders/{got['kafka-5'][0]}")
        check.expect(status == 200 and order.get("ref") == "kafka-5", f"GET /orders/{{id}} ref: {order.get('ref')}")
        created = {k: json.loads(v) for k, v, _ in broker.consume("order.created")}
        ev = created.get(got["kafka-5"][0], {})
        check.expect(ev.get("payload", {}).get("ref") == "kafka-5", f"order.created without its ref: {ev}")

        # Over HTTP, the Idempotency-Key is the reference.
        [hid] = post_orders(node.url, [bodies[4]], key_prefix="http-ref")
        found = by_ref(node.url, "http-ref-0")
        check.expect(isinstance(found, list) and [o.get("id") for o in found] == [hid],
                     f"GET /orders?ref=http-ref-0 -> {found}")

        # Every invalid message is a dead letter with its error, on the
        # table and on orders.requested.dlq; the offsets moved on.
        def dead():
            return db.query("SELECT COALESCE(key, ''), error FROM dead_letters WHERE topic = 'orders.requested' "
                            "AND consumer = 'intake'")
        deadline = time.time() + 30
        while len(dead()) < 4 and time.time() < deadline:
            time.sleep(0.3)
        rows = {k: e for k, e in dead()}
        log("dead letters:", rows)
        check.expect(len(dead()) == 4, f"{len(dead())} intake dead letter(s), want 4")
        check.expect("invalid_json" in rows.get("bad-json", ""), f"bad-json: {rows.get('bad-json')}")
        check.expect("invalid_order (quantity)" in rows.get("bad-missing", ""),
                     f"bad-missing: {rows.get('bad-missing')}")
        check.expect("UTF-8" in rows.get("bad-bytes", ""), f"bad-bytes: {rows.get('bad-bytes')}")
        check.expect("missing_ref" in rows.get("", ""), f"no reference: {rows.get('')}")
        deadline = time.time() + 30
        while True:
            dlq = dlq_headers(broker)
            if len(dlq) >= 4 or time.time() > deadline:
                break
            time.sleep(0.5)
        errors = dict(dlq)
        check.expect(len(dlq) == 4, f"{len(dlq)} message(s) on {TOPIC}.dlq, want 4")
        check.expect("invalid_order (quantity): missing field 'quantity'" in errors.get("bad-missing", ""),
                     f"the dlq copy of bad-missing lacks its error header: {errors.get('bad-missing')}")
        behind = wait_lag_zero(node)
        check.expect(behind == {}, f"consumer lag not back to 0: {behind}")

        # SIGKILL while a burst is being taken in: after the restart every
        # reference has exactly one order, and all of them end.
        # The rest of the burst is produced while the node is down.
        burst = order_mix(800, seed=12)
        burst_refs = [f"kill-{i}" for i in range(len(burst))]
        msgs = [(r, json.dumps(b).encode()) for r, b in zip(burst_refs, burst)]
        produce(broker, msgs[:600])
        deadline = time.time() + 30
        while int(db.scalar("SELECT count(*) FROM orders WHERE idempotency_key LIKE 'kill-%'")) == 0 \
                and time.time() < deadline:
            time.sleep(0.02)
        node.kill()
        before = db.scalar("SELECT count(*) FROM orders WHERE idempotency_key LIKE 'kill-%'")
        log(f"killed the node with {before} of 600 produced burst orders created")
        produce(broker, msgs[600:])
        restarted = Node(db, broker, name="intake-2", extra=["--saga.deadline=60s"])
        try:
            restarted.start()
            got = wait_created(db, burst_refs, timeout=90)
            missing = [r for r, ids in got.items() if not ids]
            twice = {r: ids for r, ids in got.items() if len(ids) > 1}
            check.expect(not missing, f"{len(missing)} order(s) lost by the SIGKILL: {missing[:5]}")
            check.expect(not twice, f"{len(twice)} reference(s) created twice after the SIGKILL")
            kill_ids = [got[r][0] for r in burst_refs if got[r]]
            final = wait_final(db, kill_ids, timeout=120)
            check.expect(len(final) == len(kill_ids), f"{len(kill_ids) - len(final)} burst order(s) not final")
            check_rules(check, burst, kill_ids, final, STOCK)
            total = len(ids) + 1 + len(kill_ids)  # + the field ref
            check.expect(wait_quiet(db, total + 1), "the saga's tail did not run")  # + the HTTP order
            check_stock(check, db, STOCK)
            events = int(db.scalar("SELECT count(*) FROM outbox WHERE topic = 'order.created'"))
            orders = int(db.scalar("SELECT count(*) FROM orders"))
            check.expect(events == orders, f"{events} order.created events for {orders} orders")
            behind = wait_lag_zero(restarted)
            check.expect(behind == {}, f"consumer lag not back to 0 after the restart: {behind}")
        finally:
            restarted.stop()
        # A node that starts with nothing left to read reports no lag: its
        # partitions are done up to the committed offsets.
        idle = Node(db, broker, name="intake-3", extra=["--saga.deadline=60s"])
        try:
            idle.start()
            behind = wait_lag_zero(idle)
            check.expect(behind == {}, f"lag reported by a node with nothing to read: {behind}")
        finally:
            idle.stop()
    finally:
        node.stop()
        broker.stop()
    check.finish()


if __name__ == "__main__":
    main()
