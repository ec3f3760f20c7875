"""End to end: orders with several lines, posted with curl. A three-line
order is CONFIRMED with every line RESERVED; one with a line of 11 ends
quantity_limit and reserves nothing; one whose total exceeds 100000 ends
payment_declined and releases every line it reserved, once; one that a SKU's
stock cannot cover ends out_of_stock, names that SKU (on its timeline, its
lines and the inventory.result event) and takes nothing from the others.
Bad lines get a 400 naming the line and field; the single-item shape still
works and GET /orders keeps its fields. Then troupe-load posts its mix with
multi-line orders and finds no mismatch (outcome and every line's state).
Stock is conserved for every SKU of every line."""
import json
import os
import subprocess

from troupe_env import BUILD, Broker, Check, Database, Node, check_stock, http, log, wait_final, wait_quiet

LOAD = os.path.join(BUILD, "apps", "troupe-load", "troupe-load")
LOAD_ORDERS = 300

STOCK = 10  # small, so that one order can run a SKU short


def curl_post(url, body):
    """POST /orders with curl, as a user would; returns (status, JSON body)."""
    out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "-XPOST", url + "/orders",
                          "-H", "Content-Type: application/json", "-d", json.dumps(body)],
                         capture_output=True, text=True, timeout=15, check=True).stdout
    text, _, code = out.rpartition("\n")
    log("curl POST /orders", json.dumps(body), "->", code, text)
    return int(code), json.loads(text)


def order(url, oid):
    status, body = http("GET", f"{url}/orders/{oid}")
    return body if status == 200 else {}


def reservations(o):
    return {x["sku"]: x["reservation"] for x in o.get("items", [])}


def lines(email, *items):
    return {"customer_email": email,
            "items": [{"sku": s, "quantity": q, "unit_price_cents": p} for s, q, p in items]}


def post_final(check, db, url, body, what):
    code, res = curl_post(url, body)
    check.expect(code == 201, f"{what}: POST -> {code} {res}")
    oid = res.get("id", "")
    final = wait_final(db, [oid], timeout=60)
    return oid, final.get(oid)


def expect_400(check, url, body, field):
    code, res = curl_post(url, body)
    check.expect(code == 400 and res.get("field") == field and field in res.get("details", ""),
                 f"400 naming {field}: got {code} {res}")


def main():
    check = Check()
    db = Database("e2e_lines")
    broker = Broker(partitions=3)
    node = Node(db, broker, extra=[f"--inventory.default-stock={STOCK}", "--saga.deadline=60s"])
    try:
        node.start()
        url = node.url
        # Three lines, all reserved.
        three = lines("three@example.com", ("SKU-CHAIR-01", 2, 14990), ("SKU-DESK-01", 1, 29900),
                      ("SKU-LAMP-01", 3, 4590))
        a, status = post_final(check, db, url, three, "three lines")
        check.expect(status == ("CONFIRMED", ""), f"three lines ended {status}")
        oa = order(url, a)
        check.expect(oa.get("amount_cents") == 2 * 14990 + 29900 + 3 * 4590, f"the total: {oa.get('amount_cents')}")
        check.expect(oa.get("item_sku") == "SKU-CHAIR-01" and oa.get("quantity") == 6,
                     f"item_sku is the first line's, quantity the total: {oa.get('item_sku')} {oa.get('quantity')}")
        check.expect(reservations(oa) == {"SKU-CHAIR-01": "RESERVED", "SKU-DESK-01": "RESERVED",
                                          "SKU-LAMP-01": "RESERVED"}, f"every line reserved: {oa.get('items')}")

        # A line of 11: quantity_limit, nothing reserved.
        b, status = post_final(check, db, url, lines("limit@example.com", ("SKU-DESK-01", 1, 100),
                                                     ("SKU-SHELF-01", 11, 100)), "a line of 11")
        check.expect(status == ("CANCELLED", "quantity_limit"), f"a line of 11 ended {status}")
        check.expect(db.scalar(f"SELECT count(*) FROM reservations WHERE order_id = '{b}'") == "0",
                     "an order over the quantity limit reserved stock")

        # Over 100000 in all (each line alone is not): declined; what was
        # reserved is released, every line once.
        c, status = post_final(check, db, url, lines("declined@example.com", ("SKU-DESK-01", 2, 30000),
                                                     ("SKU-LAMP-01", 1, 50000)), "a total over 100000")
        check.expect(status == ("CANCELLED", "payment_declined"), f"a total over 100000 ended {status}")
        check.expect(wait_quiet(db, 3), "the declined order's compensation did not complete")
        held = db.scalar(f"SELECT count(*) FROM reservations WHERE order_id = '{c}' AND status = 'RESERVED'")
        check.expect(held == "0", f"{held} line(s) of the declined order still held")
        oc = order(url, c)
        released = [t for t in oc.get("timeline", []) if t["kind"] == "inventory.released"]
        check.expect(len(released) <= 1, f"released more than once: {released}")
        if released:
            check.expect(reservations(oc) == {"SKU-DESK-01": "RELEASED", "SKU-LAMP-01": "RELEASED"},
                         f"every reserved line released: {oc.get('items')}")

        # CHAIR has 8 left: 9 are short, SHELF is not touched.
        d, status = post_final(check, db, url, lines("short@example.com", ("SKU-SHELF-01", 4, 1000),
                                                     ("SKU-CHAIR-01", 9, 1000)), "a short SKU")
        check.expect(status == ("CANCELLED", "out_of_stock"), f"a short SKU ended {status}")
        od = order(url, d)
        check.expect(reservations(od) == {"SKU-SHELF-01": None, "SKU-CHAIR-01": "SHORT"},
                     f"the short line is named: {od.get('items')}")
        short = [t["detail"] for t in od.get("timeline", []) if t["kind"] == "inventory.short"]
        check.expect(short == [{"skus": ["SKU-CHAIR-01"]}], f"the timeline names the short SKU: {short}")
        shelf = db.scalar("SELECT available FROM stock WHERE sku = 'SKU-SHELF-01'")
        check.expect(shelf == str(STOCK), f"SKU-SHELF-01 has {shelf}, want {STOCK}: nothing or all")

        # Bad lines name the line and field.
        expect_400(check, url, lines("bad@example.com", ("SKU-A", 1, 100), ("SKU-A", 2, 100)), "items[1].sku")
        expect_400(check, url, lines("bad@example.com", ("SKU-A", 1, 100), ("SKU-B", 1, 100), ("SKU-C", 0, 100)),
                   "items[2].quantity")
        expect_400(check, url, lines("bad@example.com", ("SKU-A", 1, -5)), "items[0].unit_price_cents")
        expect_400(check, url, {"customer_email": "bad@example.com", "items": []}, "items")
        expect_400(check, url, lines("bad@example.com", *[(f"SKU-{i}", 1, 1) for i in range(51)]), "items")

        # The single-item shape still means one line.
        e, status = post_final(check, db, url, {"customer_email": "one@example.com", "item_sku": "SKU-DESK-01",
                                                "quantity": 1, "amount_cents": 2500}, "single item")
        check.expect(status == ("CONFIRMED", ""), f"single item ended {status}")
        code, listed = http("GET", f"{url}/orders?limit=50")
        byid = {o["id"]: o for o in listed} if code == 200 else {}
        one = byid.get(e, {})
        check.expect(one.get("item_sku") == "SKU-DESK-01" and one.get("quantity") == 1
                     and one.get("amount_cents") == 2500 and len(one.get("items", [])) == 1,
                     f"GET /orders keeps the single-item fields: {one}")
        check.expect(len(byid.get(a, {}).get("items", [])) == 3, "GET /orders lists the three lines")

        # Events carry the lines, and the old single-item fields.
        created = {k: json.loads(v)["payload"] for k, v, _ in broker.consume("order.created")}
        pa = created.get(a, {})
        check.expect([x["sku"] for x in pa.get("items", [])] == ["SKU-CHAIR-01", "SKU-DESK-01", "SKU-LAMP-01"]
                     and pa.get("item_sku") == "SKU-CHAIR-01" and pa.get("quantity") == 6,
                     f"order.created carries the lines: {pa}")
        results = {k: json.loads(v)["payload"] for k, v, _ in broker.consume("inventory.result")}
        check.expect(results.get(d, {}).get("short_skus") == ["SKU-CHAIR-01"],
                     f"inventory.result names the short SKU: {results.get(d)}")

        # troupe-load's mix with multi-line orders: every outcome and every
        # line's reservation state as the rules say.
        out = subprocess.run([LOAD, f"--url={url}", f"--orders={LOAD_ORDERS}", "--concurrency=8", "--json",
                              "--mix=ok:4,limit:1,lines:5,lines_declined:1,lines_limit:1"],
                             capture_output=True, text=True, timeout=300)
        log("troupe-load:", out.stdout.strip(), out.stderr.strip()[-300:])
        summary = json.loads(out.stdout) if out.returncode in (0, 1) and out.stdout.strip() else {}
        check.expect(out.returncode == 0, f"troupe-load exited {out.returncode}")
        check.expect(summary.get("mismatches") == 0 and summary.get("stuck") == 0,
                     f"troupe-load: {summary.get('mismatches')} mismatches, {summary.get('stuck')} stuck")
        outcomes = summary.get("by_outcome", {})
        check.expect(outcomes.get("CANCELLED/payment_declined", 0) > 0 and outcomes.get("CANCELLED/quantity_limit", 0) > 0,
                     f"troupe-load's mix hit the rules: {outcomes}")

        check.expect(wait_quiet(db, 5 + LOAD_ORDERS), "the saga's tail did not complete")
        check_stock(check, db, STOCK)
        log("stock:", db.query("SELECT sku, available FROM stock ORDER BY sku"))
    finally:
        code = node.stop()
        broker.stop()
    check.expect(code == 0, f"node exited with {code} on SIGTERM")
    check.finish()


if __name__ == "__main__":
    main()
