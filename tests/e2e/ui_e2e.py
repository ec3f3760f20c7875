"""The web UI in headless Chromium: the node serves the embedded UI at / (and
only there: API routes and the JSON 404 are unchanged); a browser places an
order through the form, sees it CONFIRMED in the list without reloading,
opens its page and finds the timeline and correlation id, sees the dead
letters of an order, cancels an open order with its Cancel button and
redrives a dead letter from the dead-letters page (see
tests/e2e/ui/ui_test.mjs). `http.static-dir` still serves from disk instead.
Screenshots land in build/testenv/ui/."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from troupe_env import BUILD, SOURCE, Broker, Check, Database, Node, http, log, post_orders, wait_final

UI_TEST = os.path.join(SOURCE, "tests", "e2e", "ui")
SHOTS = os.path.join(BUILD, "testenv", "ui")
CHROMIUM = "/usr/bin/chromium"
# Markup in a poison message: the UI must show it as text.
POISON = 'not json <img src=x onerror="window.__troupeXss=1"> end'
OPEN_ORDER = "00000000-0000-4000-8000-0000000c0ffe"


def fetch(url, headers=None):
    """(status, headers, body bytes) of a GET, also for 4xx/5xx."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, res.headers, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def npm_ci():
    """Installs the pinned playwright-core once (never a browser download)."""
    if os.path.isdir(os.path.join(UI_TEST, "node_modules", "playwright-core")):
        return
    log("installing playwright-core (npm ci)")
    env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=UI_TEST, env=env, check=True, timeout=600)


def check_serving(check, url):
    """The UI comes from the binary with the right types; the API is unchanged."""
    status, hdrs, body = fetch(url + "/")
    check.expect(status == 200 and hdrs.get("Content-Type", "").startswith("text/html"),
                 f"GET / -> {status} {hdrs.get('Content-Type')}")
    check.expect(b'<script src="app.js"' in body and b'id="app"' in body, "GET / is the UI's index.html")
    check.expect("script-src 'self'" in hdrs.get("Content-Security-Policy", ""), "index.html carries a CSP")
    for path, ctype in [("/index.html", "text/html"), ("/app.js", "text/javascript"), ("/style.css", "text/css"),
                        ("/favicon.svg", "image/svg+xml")]:
        status, hdrs, body = fetch(url + path)
        with open(os.path.join(SOURCE, "ui", path.lstrip("/")), "rb") as f:
            same = f.read() == body
        check.expect(status == 200 and hdrs.get("Content-Type", "").startswith(ctype) and same,
                     f"GET {path} -> {status} {hdrs.get('Content-Type')}, same bytes as ui{path}: {same}")
    status, hdrs, _ = fetch(url + "/app.js")
    etag = hdrs.get("ETag")
    status, _, body = fetch(url + "/app.js", {"If-None-Match": etag or "-"})
    check.expect(etag and status == 304 and not body, f"a matching ETag gets 304 (got {status})")
    for path in ["/nope", "/app.js.map", "/README.md", "/orders/x/y"]:
        status, hdrs, body = fetch(url + path)
        try:
            err = json.loads(body).get("error")
        except ValueError:
            err = None
        check.expect(status == 404 and err == "not_found", f"GET {path} -> {status} {err}, want the JSON 404")
    for path, want in [("/health", 200), ("/ready", 200), ("/orders?limit=1", 200), ("/admin/dead-letters", 401)]:
        status, hdrs, _ = fetch(url + path)
        check.expect(status == want and hdrs.get("Content-Type", "").startswith("application/json"),
                     f"GET {path} -> {status} {hdrs.get('Content-Type')}")
    status, hdrs, _ = fetch(url + "/metrics")
    check.expect(status == 200 and hdrs.get("Content-Type", "").startswith("text/plain"), "GET /metrics unchanged")


UI_TOKEN = "ui-e2e-operator-token-4f1c"


def check_static_dir(check, db, broker):
    """--http.static-dir serves from disk instead of the embedded files."""
    d = tempfile.mkdtemp(prefix="troupe-ui-")
    try:
        with open(os.path.join(d, "index.html"), "w") as f:
            f.write("<!doctype html><title>from disk</title>")
        node = Node(db, broker, name="static-dir", extra=[f"--http.static-dir={d}"])
        try:
            node.start()
            status, _, body = fetch(node.url + "/")
            check.expect(status == 200 and b"from disk" in body, f"static-dir: GET / -> {status} {body[:60]!r}")
            status, _, _ = fetch(node.url + "/app.js")
            check.expect(status == 404, f"static-dir: embedded files are not served ({status})")
            status, _, _ = fetch(node.url + "/orders?limit=1")
            check.expect(status == 200, f"static-dir: GET /orders -> {status}")
        finally:
            node.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    check = Check()
    for tool in ["node", "npm"]:
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run scripts/deps.sh")
    if not os.access(CHROMIUM, os.X_OK):
        raise SystemExit(f"{CHROMIUM} is missing: run scripts/deps.sh")
    npm_ci()
    shutil.rmtree(SHOTS, ignore_errors=True)

    db = Database("e2e_ui")
    broker = Broker(partitions=3)
    # The operator endpoints need a token: the browser asks for it.
    node = Node(db, broker, env={"TROUPE_HTTP_ADMIN_TOKEN": UI_TOKEN})
    try:
        node.start()
        check_serving(check, node.url)

        # An order with a dead letter: a poison payment result keyed by its id.
        [dlq_order] = post_orders(node.url, [{"customer_email": "poisoned@example.com", "item_sku": "SKU-DESK-01",
                                              "quantity": 1, "amount_cents": 2500}], key_prefix="ui-dlq")
        check.expect(len(wait_final(db, [dlq_order], timeout=60)) == 1, "the seed order is not final")
        subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", "payment.result", "-k", dlq_order],
                       input=POISON, text=True, check=True)
        deadline = time.time() + 30
        while time.time() < deadline and db.scalar(
                f"SELECT count(*) FROM dead_letters WHERE key = '{dlq_order}'") == "0":
            time.sleep(0.3)
        status, order = http("GET", f"{node.url}/orders/{dlq_order}")
        dead = order.get("dead_letters", []) if status == 200 else []
        check.expect(len(dead) == 1 and dead[0]["topic"] == "payment.result" and dead[0]["redriven_at"] is None,
                     f"GET /orders/<id> lists the order's dead letter: {dead}")
        check.expect(order.get("timeline") and order.get("correlation_id"), "existing order fields are unchanged")

        # An open order for the Cancel button: written straight into the
        # database (no order.created event), so only its far deadline or a
        # cancel can end it.
        db.query(f"INSERT INTO orders (id, customer_email, item_sku, quantity, amount_cents, correlation_id, "
                 f"deadline_at) VALUES ('{OPEN_ORDER}', 'ui-cancel@example.com', 'SKU-LAMP-01', 1, 1000, "
                 f"'ui-cancel-corr', clock_timestamp() + interval '10 minutes')")
        db.query(f"INSERT INTO order_timeline (order_id, kind) VALUES ('{OPEN_ORDER}', 'created')")

        env = dict(os.environ, TROUPE_URL=node.url, TROUPE_SCREENSHOT_DIR=SHOTS, TROUPE_DLQ_ORDER_ID=dlq_order,
                   TROUPE_ADMIN_TOKEN=UI_TOKEN, TROUPE_OPEN_ORDER_ID=OPEN_ORDER)
        log("running the browser test (tests/e2e/ui/ui_test.mjs)")
        proc = subprocess.run(["node", "ui_test.mjs"], cwd=UI_TEST, env=env, capture_output=True, text=True,
                              timeout=300)
        print(proc.stdout, end="", flush=True)
        if proc.stderr.strip():
            print(proc.stderr, end="", flush=True)
        check.expect(proc.returncode == 0, f"the browser test failed (exit {proc.returncode})")
        lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
        result = json.loads(lines[-1][len("RESULT "):]) if lines else {}
        check.expect(bool(lines), "the browser test printed no result")

        # What the browser did really happened.
        oid = result.get("order_id")
        if oid:
            row = db.query(f"SELECT status, customer_email, quantity, amount_cents FROM orders WHERE id = '{oid}'")
            check.expect(row and row[0] == ["CONFIRMED", result.get("email"), "2", "4590"],
                         f"the order placed in the browser is in the database: {row}")
            check.expect(db.scalar("SELECT count(*) FROM orders WHERE quantity = 0") == "0",
                         "the rejected order was not stored")
        check.expect(result.get("cancelled") == OPEN_ORDER, "the browser test did not cancel the open order")
        final = db.query(f"SELECT status, COALESCE(reason, '') FROM orders WHERE id = '{OPEN_ORDER}'")
        check.expect(final == [["CANCELLED", "customer_cancelled"]],
                     f"the order cancelled in the browser is CANCELLED/customer_cancelled: {final}")
        redriven = result.get("redriven")
        if redriven:
            check.expect(db.scalar(f"SELECT redriven_at IS NOT NULL FROM dead_letters WHERE id = {redriven}") == "t",
                         f"dead letter {redriven} is marked redriven in the database")
            check.expect(db.scalar(f"SELECT count(*) FROM outbox WHERE headers->>'troupe.redriven_from' = "
                                   f"'{redriven}'") == "1", "the redrive went through the outbox")
        for shot in result.get("screenshots", []):
            with open(shot, "rb") as f:
                ok = f.read(8) == b"\x89PNG\r\n\x1a\n"
            check.expect(ok and os.path.getsize(shot) > 10000, f"screenshot {shot} is a PNG")
        check.expect(os.path.exists(os.path.join(SHOTS, "order.png")), "no screenshot of the order page")
        log("screenshots in", SHOTS)
        node.stop()
        check_static_dir(check, db, broker)
    finally:
        node.stop()
        broker.stop()
    check.finish()


if __name__ == "__main__":
    main()
