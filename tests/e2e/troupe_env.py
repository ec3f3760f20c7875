"""Process harness for Troupe's end-to-end suites.

Starts what a suite needs -- a database in the shared test PostgreSQL, a
troupe-broker, troupe-node processes -- and offers the clients a user would
use: HTTP, psql and kcat. Standard library only.
"""
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

SOURCE = os.environ.get("TROUPE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("TROUPE_BUILD_DIR", os.path.join(SOURCE, "build"))
TESTENV = os.environ.get("TROUPE_TESTENV", os.path.join(BUILD, "testenv"))
NODE = os.path.join(BUILD, "apps", "troupe-node", "troupe-node")
BROKER = os.path.join(BUILD, "apps", "troupe-broker", "troupe-broker")


def log(*args):
    print("[e2e]", *args, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Check:
    """Collects failed expectations; a suite fails if any was recorded."""

    def __init__(self):
        self.failures = []

    def expect(self, cond, what):
        if not cond:
            self.failures.append(what)
            log("FAIL:", what)
        return cond

    def finish(self):
        if self.failures:
            log(f"{len(self.failures)} check(s) failed")
            sys.exit(1)
        log("all checks passed")


class Database:
    def __init__(self, name):
        with open(os.path.join(TESTENV, "pg_url")) as f:
            admin = f.read().strip()
        self.admin = admin
        self.name = f"{name}_{os.getpid()}"
        self.url = admin.rsplit("/", 1)[0] + "/" + self.name
        self.psql_admin(f"DROP DATABASE IF EXISTS {self.name}")
        self.psql_admin(f"CREATE DATABASE {self.name}")

    def psql_admin(self, sql):
        subprocess.run(["psql", self.admin, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], check=True,
                       stdout=subprocess.DEVNULL)

    def query(self, sql):
        """Rows of a query as lists of strings."""
        out = subprocess.run(["psql", self.url, "-v", "ON_ERROR_STOP=1", "-qAt", "-F", "\t", "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def scalar(self, sql):
        rows = self.query(sql)
        return rows[0][0] if rows else None


class Broker:
    def __init__(self, partitions=6):
        self.proc = subprocess.Popen([BROKER, f"--partitions={partitions}"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.bootstrap = self.proc.stdout.readline().strip()
        if not self.bootstrap:
            raise RuntimeError("troupe-broker did not print its bootstrap string")
        log("broker at", self.bootstrap)

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def consume(self, topic, timeout=30):
        """Every message of a topic as (key, value, headers) tuples."""
        out = subprocess.run(
            ["kcat", "-b", self.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
             "-f", "%k\t%h\t%s\n"], capture_output=True, text=True, timeout=timeout, check=True).stdout
        result = []
        for line in out.splitlines():
            if not line:
                continue
            key, headers, value = line.split("\t", 2)
            result.append((key, value, headers))
        return result


class Node:
    """A troupe-node process. `config` is the file under config/ (dev.ini:
    operator endpoints open without a token); `env` adds environment
    variables, e.g. TROUPE_HTTP_ADMIN_TOKEN (then /admin/* needs
    `admin_headers()`); `url` overrides the database URL."""

    def __init__(self, db, broker, name="node-1", port=None, extra=(), log_dir=None, config="dev.ini", env=None,
                 url=None):
        self.db, self.broker, self.name = db, broker, name
        self.port = port or free_port()
        self.extra = list(extra)
        self.config = config
        self.env = dict(env or {})
        self.db_url = url
        self.log_dir = log_dir or os.path.join(TESTENV, "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        self.proc = None
        self.starts = 0

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self):
        return os.path.join(self.log_dir, f"{self.db.name}-{self.name}-{self.starts}.log")

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def args(self):
        """The node's command line."""
        return [NODE, f"--config-file={SOURCE}/config/{self.config}", f"--postgres.url={self.db_url or self.db.url}",
                f"--kafka.brokers={self.broker.bootstrap}", f"--http.port={self.port}",
                f"--node.id={self.name}", "--http.host=127.0.0.1"] + self.extra

    def start(self, wait=True):
        self.starts += 1
        logf = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.args(), stdout=logf, stderr=subprocess.STDOUT, cwd=SOURCE,
                                     env=dict(os.environ, **self.env))
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            try:
                status, _ = http("GET", self.url + "/ready", timeout=2)
                if status == 200:
                    log(f"{self.name} ready on {self.url}")
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout}s")

    def admin_headers(self):
        """Headers an operator sends to /admin/* of this node."""
        token = self.env.get("TROUPE_HTTP_ADMIN_TOKEN")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return None
        return self.proc.returncode if self.proc else None


def http(method, url, body=None, headers=None, timeout=10):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            raw = res.read()
            return res.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


SKUS = ["SKU-CHAIR-01", "SKU-DESK-01", "SKU-LAMP-01", "SKU-SHELF-01"]


def order_mix(n, seed=7, lines=False):
    """n order bodies hitting every rule, with the outcome the rules allow.
    With `lines`, every fifth order has several lines ("items")."""
    import random
    rnd = random.Random(seed)
    orders = []
    for i in range(n):
        kind = i % 10
        body = {"customer_email": f"customer{i}@example.com", "item_sku": rnd.choice(SKUS),
                "quantity": rnd.randint(1, 3), "amount_cents": rnd.randint(1000, 90000)}
        if kind == 7:
            body["amount_cents"] = 150000  # payment_declined
        elif kind == 8:
            body["quantity"] = rnd.randint(11, 20)  # quantity_limit
        elif kind == 9:
            body["amount_cents"] = 200000  # both fail: payment wins
            body["quantity"] = 12
        if lines and i % 5 == 1:
            body = lines_body(rnd, i, kind)
        orders.append(body)
    return orders


def lines_body(rnd, i, kind):
    """A multi-line order of 2 to 4 distinct SKUs; kind 8 puts a line of 11
    or more in it, kind 7 makes its total exceed 100000."""
    skus = rnd.sample(SKUS, rnd.randint(2, min(4, len(SKUS))))
    items = [{"sku": s, "quantity": rnd.randint(1, 3), "unit_price_cents": rnd.randint(100, 9000)} for s in skus]
    if kind == 7:
        items[0]["unit_price_cents"] = 100001
    elif kind == 8:
        items[-1]["quantity"] = rnd.randint(11, 20)
    return {"customer_email": f"customer{i}@example.com", "items": items}


def body_lines(body):
    """The lines of an order body, either shape: [(sku, quantity, amount)]."""
    if "items" in body:
        return [(x["sku"], x["quantity"], x["quantity"] * x["unit_price_cents"]) for x in body["items"]]
    return [(body["item_sku"], body["quantity"], body["amount_cents"])]


def post_orders(urls, bodies, concurrency=16, key_prefix="e2e"):
    """Posts orders and returns their ids in order. Order i goes to
    urls[i % len(urls)]; when a node does not answer (or answers 503), the
    client retries on the next one with the same Idempotency-Key."""
    if isinstance(urls, str):
        urls = [urls]

    def post(i_body):
        i, body = i_body
        key = f"{key_prefix}-{i}"
        last = None
        deadline = time.time() + 60  # 503 (overloaded, draining): retry
        for attempt in range(100000):
            if time.time() > deadline:
                break
            url = urls[(i + attempt) % len(urls)]
            try:
                status, res = http("POST", url + "/orders", body, {"Idempotency-Key": key}, timeout=10)
                if status in (200, 201):
                    return res["id"]
                last = (status, res)
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise RuntimeError(f"order {i} could not be posted; last answer: {last}")
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(post, enumerate(bodies)))


def start_nodes(db, broker, count, extra):
    """Starts `count` nodes together and waits until all are ready."""
    nodes = [Node(db, broker, name=f"node-{i + 1}", extra=extra) for i in range(count)]
    for n in nodes:
        n.start(wait=False)
    for n in nodes:
        n.wait_ready()
    return nodes


def wait_for(pred, timeout=30):
    """Polls `pred` until it holds or `timeout` seconds passed; its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.3)
    return pred()


def wait_final(db, ids, timeout=120):
    """Waits until every order is final; returns {id: (status, reason)}."""
    deadline = time.time() + timeout
    idset = set(ids)
    while True:
        rows = db.query("SELECT id, status, COALESCE(reason, '') FROM orders")
        final = {r[0]: (r[1], r[2]) for r in rows if r[0] in idset and r[1] != "NEW"}
        if len(final) == len(idset) or time.time() > deadline:
            return final
        time.sleep(0.5)


def wait_quiet(db, expected_orders, timeout=60):
    """Waits until the saga's tail has run: every outbox row published,
    every cancelled order's reservation released, every customer notified."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        unpublished = int(db.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
        held = int(db.scalar("SELECT count(*) FROM reservations r JOIN orders o ON o.id = r.order_id "
                             "WHERE r.status = 'RESERVED' AND o.status = 'CANCELLED'"))
        notified = int(db.scalar("SELECT count(DISTINCT order_id) FROM notifications"))
        if unpublished == 0 and held == 0 and notified >= expected_orders:
            return True
        time.sleep(0.3)
    log(f"not quiet after {timeout}s: {unpublished} unpublished, {held} held, {notified} notified")
    return False


def check_rules(check, bodies, ids, final, default_stock):
    """Every order's status and reason follow the business rules."""
    bad = 0
    for body, oid in zip(bodies, ids):
        status, reason = final.get(oid, ("NEW", ""))
        lines = body_lines(body)
        if sum(a for _, _, a in lines) > 100000:
            ok = (status, reason) == ("CANCELLED", "payment_declined")
        elif any(q > 10 for _, q, _ in lines):
            ok = (status, reason) == ("CANCELLED", "quantity_limit")
        else:
            ok = (status, reason) in (("CONFIRMED", ""), ("CANCELLED", "out_of_stock"))
        if not ok:
            bad += 1
            if bad <= 5:
                log("rule violated:", body, status, reason)
    check.expect(bad == 0, f"{bad} order(s) do not follow the rules")


def check_stock(check, db, default_stock):
    """Per SKU of every line: default stock minus the confirmed orders' lines
    equals what is available, and equals it minus what is held."""
    rows = db.query("SELECT s.sku, s.available, COALESCE((SELECT sum(l.quantity) FROM order_lines l "
                    "JOIN orders o ON o.id = l.order_id WHERE l.sku = s.sku AND o.status = 'CONFIRMED'), 0), "
                    "COALESCE((SELECT sum(r.quantity) FROM reservations r WHERE r.sku = s.sku "
                    "AND r.status = 'RESERVED'), 0) FROM stock s")
    for sku, available, confirmed, held in rows:
        check.expect(int(available) == default_stock - int(confirmed),
                     f"stock of {sku}: available {available} != {default_stock} - {confirmed}")
        check.expect(int(available) + int(held) == default_stock,
                     f"stock of {sku}: available {available} + held {held} != {default_stock}")
    unstocked = db.scalar("SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id "
                          "WHERE o.status = 'CONFIRMED' AND NOT EXISTS (SELECT 1 FROM reservations r "
                          "WHERE r.order_id = l.order_id AND r.sku = l.sku AND r.status = 'RESERVED')")
    check.expect(unstocked == "0", f"{unstocked} line(s) of confirmed orders not reserved")
    held = db.scalar("SELECT count(*) FROM reservations r JOIN orders o ON o.id = r.order_id "
                     "WHERE r.status = 'RESERVED' AND o.status <> 'CONFIRMED'")
    check.expect(held == "0", f"{held} reservation(s) held by orders that are not confirmed")


def check_status_events(check, broker, ids):
    """Exactly one order.status.changed per order on Kafka."""
    msgs = broker.consume("order.status.changed")
    counts = {}
    for key, _, _ in msgs:
        counts[key] = counts.get(key, 0) + 1
    missing = [i for i in ids if counts.get(i, 0) == 0]
    dup = [i for i in ids if counts.get(i, 0) > 1]
    check.expect(not missing, f"{len(missing)} order(s) without order.status.changed")
    check.expect(not dup, f"{len(dup)} order(s) with more than one order.status.changed")
    return msgs


def metrics_text(node):
    """The node's /metrics, as text."""
    with urllib.request.urlopen(node.url + "/metrics", timeout=10) as res:
        return res.read().decode()


def consumer_lags(node):
    """Every troupe_consumer_lag series of the node's /metrics: {labels: lag}."""
    import re
    text = metrics_text(node)
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r'^troupe_consumer_lag\{([^}]*)\} (\S+)$', text, re.M)}


def wait_lag_zero(node, timeout=30):
    """Waits until every consumer of the node has committed all it read;
    returns the lags that are not 0 (empty: none), or None without series."""
    deadline = time.time() + timeout
    while True:
        lag = consumer_lags(node)
        behind = {k: v for k, v in lag.items() if v != 0}
        if (lag and not behind) or time.time() > deadline:
            return behind if lag else None
        time.sleep(0.5)
