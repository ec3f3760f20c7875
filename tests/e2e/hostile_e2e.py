"""Hostile input: what the world may send, and the node keeps its promise.

Onto every consumed topic: a value that is not UTF-8, a key that is not
UTF-8, junk with a header value that is not UTF-8, and a message of almost
1 MB of random bytes. Over HTTP: invalid UTF-8 inside a JSON string, in the
Idempotency-Key and X-Correlation-ID headers, deeply nested JSON, and
thousands of random and mutated bodies, while real orders flow.

Afterwards: every order is final, every junk message is a dead_letters row
holding its exact bytes, every consumer's lag is back to 0, the outbox is
drained (rows set aside excepted) within 5 s, /health and /ready answer 200,
and no HTTP answer was a 5xx. Then the node is stopped with SIGTERM under
load and restarted: every order ends, and its order.status.changed is on
Kafka right after the last order is final.
"""
import concurrent.futures
import hashlib
import http.client as httpclient
import json
import os
import random
import re
import socket
import subprocess
import tempfile
import threading
import time

from troupe_env import (Broker, Check, Database, Node, http, log, order_mix, metrics_text, post_orders,
                        wait_final, wait_lag_zero)

TOPICS = ["order.created", "payment.result", "inventory.result", "order.status.changed", "inventory.release",
          "payment.refund", "order.cancel.requested"]
# Consumer groups reading each topic (order.created: payment, inventory, analytics).
READERS = {t: (3 if t == "order.created" else 1) for t in TOPICS}
BIG = 990_000


def produce(broker, topic, key, value, headers=()):
    """One message with exactly these bytes (kcat sends a file as one message)."""
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(value)
        path = f.name
    try:
        args = [b"kcat", b"-b", broker.bootstrap.encode(), b"-P", b"-t", topic.encode(), b"-k", key,
                b"-X", b"message.max.bytes=2000000"]
        for name, val in headers:
            args += [b"-H", name + b"=" + val]
        subprocess.run(args + [path.encode()], check=True)
    finally:
        os.unlink(path)


def keys_on(broker, topic):
    """The keys of every message of a topic (values here may be any bytes)."""
    out = subprocess.run(["kcat", "-b", broker.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                          "-f", "%k\n"], capture_output=True, timeout=30, check=True).stdout
    return {k.decode(errors="replace") for k in out.split(b"\n")}


def raw_request(port, request, timeout=10):
    """Sends raw bytes as one HTTP request; returns (status, body text)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body.decode(errors="replace")


def post_raw(port, body, headers=b""):
    return raw_request(port, b"POST /orders HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       b"Content-Type: application/json\r\n" + headers
                       + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def random_bodies(n, seed=11):
    """Random bytes, mutated orders, wrong types, truncations, huge and nested bodies."""
    rnd = random.Random(seed)
    valid = json.dumps({"customer_email": "fuzz@example.com", "item_sku": "SKU-LAMP-01", "quantity": 1,
                        "amount_cents": 1000}).encode()
    values = [None, True, -1, 0, 2 ** 70, 1.5, "", " ", "\u00e9", "x" * 300, [], {}, "SKU-LAMP-01", 3]
    out = []
    for i in range(n):
        kind = i % 8
        if kind == 0:
            b = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 300)))
        elif kind == 1:
            b = bytearray(valid)
            for _ in range(rnd.randint(1, 6)):
                b[rnd.randrange(len(b))] = rnd.getrandbits(8)
            b = bytes(b)
        elif kind == 2:
            b = valid[:rnd.randrange(len(valid))]
        elif kind == 3:
            obj = json.loads(valid)
            obj[rnd.choice(list(obj))] = rnd.choice(values)
            if rnd.random() < 0.3:
                obj[rnd.choice(["extra", "quantity", "item_sku"])] = rnd.choice(values)
            b = json.dumps(obj).encode()
        elif kind == 4:
            b = rnd.choice([b"[" * 60000, b'{"a":' * 20000, b"[]", b"null", b'"str"', b"{}", b"1e999999"])
        elif kind == 5:
            cut = rnd.randrange(len(valid))
            b = valid[:cut] + bytes([rnd.choice([0x80, 0xC0, 0xED, 0xF5, 0xFF])]) + valid[cut:]
        elif kind == 6:
            b = valid.replace(b"fuzz", bytes([0xFF, 0xFE]) + b"fuzz")
        else:
            b = b" " * rnd.randint(0, 70000) + valid  # some are over the body limit
        out.append(b)
    return out


def blast(port, bodies, workers=4):
    """Posts bodies over keep-alive connections; returns (status counts, created ids)."""
    counts, created, lock = {}, [], threading.Lock()

    def run(part):
        conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=15)
        for i, body in part:
            for attempt in range(3):
                try:
                    conn.request("POST", "/orders", body=body, headers={"Content-Type": "application/json"})
                    res = conn.getresponse()
                    text = res.read()
                    break
                except (OSError, httpclient.HTTPException):
                    conn.close()
                    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=15)
            else:
                with lock:
                    counts["no answer"] = counts.get("no answer", 0) + 1
                continue
            with lock:
                counts[res.status] = counts.get(res.status, 0) + 1
                if res.status in (200, 201):
                    created.append(json.loads(text)["id"])
                elif res.status >= 500 and counts[res.status] <= 3:
                    log("5xx for body", body[:80], "->", text[:200])
        conn.close()

    parts = [[(i, b) for i, b in enumerate(bodies) if i % workers == w] for w in range(workers)]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, parts))
    return counts, created


def main():
    check = Check()
    db = Database("e2e_hostile")
    broker = Broker(partitions=3)
    node = Node(db, broker, extra=["--saga.deadline=60s"])
    rnd = random.Random(5)
    try:
        node.start()

        # 1. Junk on every consumed topic.
        junk = []
        for topic in TOPICS:
            junk.append((topic, b"k-bad-value", b"\xff\xfe junk \xc3("))
            junk.append((topic, b"\xc3\x28-bad-key", b'{"type": "nothing"}'))
            junk.append((topic, b"k-bad-header", b"not json \xe2\x82"))
            junk.append((topic, b"k-big", bytes(rnd.getrandbits(8) for _ in range(BIG))))
        for topic, key, value in junk:
            headers = [(b"correlation_id", b"\xff\xfe"), (b"troupe.outbox_id", b"\xc3(")] \
                if key == b"k-bad-header" else []
            produce(broker, topic, key, value, headers)
        log(f"produced {len(junk)} junk messages onto {len(TOPICS)} topics")

        # 2. Invalid bytes over HTTP, answered 400 naming the problem.
        good = {"customer_email": "h@example.com", "item_sku": "SKU-DESK-01", "quantity": 1, "amount_cents": 1000}
        body = json.dumps(good).encode().replace(b"h@example", b"h\xff\xfe@example")
        status, text = post_raw(node.port, body)
        check.expect(status == 400 and "customer_email" in text,
                     f"invalid UTF-8 in a string: {status} {text[:200]}")
        for header in [b"Idempotency-Key", b"X-Correlation-ID"]:
            status, text = post_raw(node.port, json.dumps(good).encode(), header + b": k\xff\xfe\x80\r\n")
            check.expect(status == 400 and header.decode() in text,
                         f"invalid bytes in {header.decode()}: {status} {text[:200]}")
        status, text = post_raw(node.port, b'{"customer_email": "a@b.c", "item_sku": "   ", "quantity": 1, '
                                           b'"amount_cents": 1}')
        check.expect(status == 400 and "item_sku" in text, f"blank SKU: {status} {text[:200]}")

        # 3. Real orders next to thousands of random bodies.
        bodies = order_mix(60)
        result = {}
        poster = threading.Thread(target=lambda: result.setdefault("ids", post_orders(node.url, bodies,
                                                                                     key_prefix="h")))
        poster.start()
        counts, created = blast(node.port, random_bodies(3000))
        poster.join()
        ids = result.get("ids", []) + created
        log("random bodies answered:", counts)
        check.expect(all(isinstance(s, int) and s < 500 for s in counts),
                     f"random bodies got answers other than 2xx/4xx: {counts}")

        final = wait_final(db, ids, timeout=90)
        final_at = time.time()
        check.expect(len(final) == len(ids), f"{len(ids) - len(final)} of {len(ids)} order(s) not final")

        # 4. Every junk message is a dead letter with its exact bytes.
        want = sum(READERS[t] for t, _, _ in junk)
        deadline = time.time() + 60
        while time.time() < deadline and int(db.scalar("SELECT count(*) FROM dead_letters")) < want:
            time.sleep(0.5)
        rows = db.query("SELECT topic, md5(COALESCE(key_raw, convert_to(key, 'UTF8'))), "
                        "md5(COALESCE(payload_raw, convert_to(payload, 'UTF8'))) FROM dead_letters")
        log(f"{len(rows)} dead letters for {len(junk)} junk messages ({want} expected)")
        stored = {}
        for r in rows:
            stored[tuple(r)] = stored.get(tuple(r), 0) + 1
        for topic, key, value in junk:
            k = (topic, hashlib.md5(key).hexdigest(), hashlib.md5(value).hexdigest())
            check.expect(stored.get(k, 0) == READERS[topic],
                         f"{topic} key {key[:16]!r}: {stored.get(k, 0)} exact dead letter(s), want {READERS[topic]}")
        status, listed = http("GET", node.url + "/admin/dead-letters?limit=500")
        check.expect(status == 200 and isinstance(listed, list), f"GET /admin/dead-letters: {status}")
        if status == 200:
            inexact = [d for d in listed if d.get("key") == "k-bad-value"]
            check.expect(inexact and all("\\xff\\xfe junk \\xc3(" == d["payload"] and d["exact"] is False
                                         for d in inexact),
                         "dead letters not shown escaped with exact=false")

        # 5. Lag back to 0, outbox drained within 5 s, node healthy.
        behind = wait_lag_zero(node)
        check.expect(behind == {}, f"consumer lag not back to 0: {behind or 'no lag series'}")
        text = metrics_text(node)
        drained_at = None
        while time.time() < final_at + 30:
            left = int(db.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL AND set_aside_at IS NULL"))
            if left == 0:
                drained_at = time.time()
                break
            time.sleep(0.2)
        check.expect(drained_at is not None and drained_at - final_at <= 5,
                     f"outbox not drained within 5 s of the last final order "
                     f"({'never' if drained_at is None else f'{drained_at - final_at:.1f} s'})")
        if drained_at is not None:
            log(f"outbox drained {drained_at - final_at:.2f} s after the last order was final")
        aside = db.query("SELECT topic, length(COALESCE(payload_raw, convert_to(payload, 'UTF8'))), last_error "
                         "FROM outbox WHERE set_aside_at IS NOT NULL")
        log("outbox rows set aside:", [(t, n, e[:80]) for t, n, e in aside])
        check.expect(all(t.endswith(".dlq") for t, _, _ in aside), f"a row other than a .dlq copy set aside: {aside}")
        if aside:
            status, listed = http("GET", node.url + "/admin/outbox")
            check.expect(status == 200 and len(listed) == len(aside), "set-aside rows not listed at /admin/outbox")
            check.expect(re.search(r'^troupe_outbox_set_aside_total\{[^}]*\} [1-9]', text, re.M) is not None,
                         "set-aside rows not counted in /metrics")
        check.expect(re.search(r'^troupe_dead_letters_dropped_total\{', text, re.M) is None,
                     "dead letters were dropped")
        for path in ["/health", "/ready"]:
            status, _ = http("GET", node.url + path)
            check.expect(status == 200, f"{path} answers {status} after hostile input")

        # 6. SIGTERM under load, restart; events on Kafka right after the last final.
        more = order_mix(200, seed=9)
        result2 = {}
        poster = threading.Thread(target=lambda: result2.setdefault(
            "ids", post_orders(node.url, more, concurrency=8, key_prefix="r")))
        poster.start()
        time.sleep(1.0)
        code = node.stop(timeout=30)
        check.expect(code == 0, f"node exited with {code} on SIGTERM")
        node.start()
        poster.join()
        ids2 = result2.get("ids", [])
        check.expect(len(ids2) == len(more), "orders not accepted around the restart")
        final2 = wait_final(db, ids2, timeout=90)
        final2_at = time.time()
        check.expect(len(final2) == len(ids2), f"{len(ids2) - len(final2)} order(s) not final after the restart")
        every = ids + ids2
        missing = every
        while missing and time.time() < final2_at + 2:
            keys = keys_on(broker, "order.status.changed")
            missing = [i for i in every if i not in keys]
        log(f"order.status.changed of all {len(every)} orders checked {time.time() - final2_at:.2f} s after the "
            f"last final order: {len(missing)} missing")
        check.expect(not missing, f"{len(missing)} order(s) without order.status.changed 2 s after the last "
                                  f"final order")
        status, _ = http("GET", node.url + "/ready")
        check.expect(status == 200, f"/ready answers {status} after the restart")
    finally:
        node.stop()
        broker.stop()
    check.finish()


if __name__ == "__main__":
    main()
