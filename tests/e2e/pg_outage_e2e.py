"""Fault: PostgreSQL stops for 20 s under load. The node stays up, /ready
answers 503, POST /orders answers 503 with Retry-After (nothing half
written), and when PostgreSQL returns everything resumes by itself: every
accepted order reaches a final status, exactly once. Uses a PostgreSQL of
its own, since it stops it."""
import os
import subprocess
import threading
import time

from troupe_env import (SOURCE, TESTENV, Broker, Check, Node, check_status_events, check_stock, free_port, http,
                        log, order_mix, wait_final, wait_quiet)

DEFAULT_STOCK = 1000000


class OwnDatabase:
    """A PostgreSQL cluster of this suite's own."""

    def __init__(self):
        self.dir = os.path.join(TESTENV, f"pg-outage-{os.getpid()}")
        self.port = free_port()
        self.name = "troupe"
        self.url = self.start()

    def start(self):
        out = subprocess.run([f"{SOURCE}/scripts/pg.sh", "start", self.dir, str(self.port)], check=True,
                             capture_output=True, text=True).stdout
        return out.strip().splitlines()[-1]

    def stop(self):
        subprocess.run([f"{SOURCE}/scripts/pg.sh", "stop", self.dir], check=True)

    def scalar(self, sql):
        return self.query(sql)[0][0]

    def query(self, sql):
        out = subprocess.run(["psql", self.url, "-qAt", "-F", "\t", "-c", sql], check=True, capture_output=True,
                             text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]


def main():
    check = Check()
    db = OwnDatabase()
    broker = Broker(partitions=6)
    node = Node(db, broker, extra=["--saga.deadline=120s"])
    accepted, during = [], {"posts": 0, "503": 0, "retry_after": 0, "other": 0}
    outage = threading.Event()
    stop = threading.Event()

    def load():
        i = 0
        while not stop.is_set():
            body = order_mix(1, seed=i)[0]
            try:
                status, res = http("POST", node.url + "/orders", body, {"Idempotency-Key": f"out-{i}"}, timeout=15)
            except OSError:
                status, res = 0, None
            if status in (200, 201):
                accepted.append(res["id"])
                i += 1
            if outage.is_set():
                during["posts"] += 1
                if status == 503:
                    during["503"] += 1
                elif status not in (200, 201):
                    during["other"] += 1
            time.sleep(0.01)

    try:
        node.start()
        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(3)
        log(f"{len(accepted)} orders accepted; stopping PostgreSQL for 20 s")
        db.stop()
        outage.set()
        time.sleep(2)
        status, body = http("GET", node.url + "/ready")
        check.expect(status == 503, f"/ready answered {status} while PostgreSQL was down")
        req_status, _ = http("POST", node.url + "/orders", order_mix(1)[0], timeout=15)
        check.expect(req_status == 503, f"POST answered {req_status} while PostgreSQL was down")
        import urllib.request
        try:
            urllib.request.urlopen(urllib.request.Request(node.url + "/orders", data=b'{"customer_email":"a@b.c",'
                                   b'"item_sku":"S","quantity":1,"amount_cents":1}',
                                   headers={"Content-Type": "application/json"}), timeout=15)
        except urllib.error.HTTPError as e:
            check.expect(e.headers.get("Retry-After") is not None, "503 without Retry-After")
        time.sleep(18)
        check.expect(node.proc.poll() is None, "the node died during the outage")
        # A consumer whose work hit the outage stops fetching (an idle one
        # has nothing to burn retries on).
        text = node.log_text()
        consumers = ("payment", "inventory", "analytics", "orchestrator", "notification")
        hit = [c for c in consumers if f"{c}: waiting until the store takes work again" in text]
        paused = [c for c in consumers if f"{c}: paused fetching" in text]
        log(f"consumers whose work hit the outage: {hit}; paused fetching: {paused}")
        check.expect(len(hit) >= 1, "no consumer noticed the outage")
        check.expect(hit == paused, "a consumer kept fetching during the outage")
        db.start()
        recovered = time.time()
        outage.clear()
        before = list(accepted)
        done = wait_final(db, before, timeout=120)
        log(f"the {len(before)} orders accepted before the outage: {len(done)} final "
            f"{time.time() - recovered:.1f}s after PostgreSQL came back")
        log(f"PostgreSQL back; during the outage: {during}")
        check.expect(during["other"] == 0, f"{during['other']} answers other than 201/503 during the outage")
        time.sleep(max(0.0, 5 - (time.time() - recovered)))
        stop.set()
        loader.join()
        final = wait_final(db, accepted, timeout=120)
        log(f"{len(final)} of {len(accepted)} accepted orders final, {time.time() - recovered:.1f}s after recovery")
        check.expect(len(final) == len(accepted), f"{len(accepted) - len(final)} accepted order(s) lost or stuck")
        check.expect(int(db.scalar("SELECT count(*) FROM orders")) == len(accepted),
                     "orders stored differ from orders accepted")
        check.expect(wait_quiet(db, len(accepted), timeout=120), "the saga's tail did not complete")
        check_status_events(check, broker, accepted)
        check_stock(check, db, DEFAULT_STOCK)
        dead = db.scalar("SELECT count(*) FROM dead_letters")
        check.expect(dead == "0", f"{dead} dead letter(s) from the outage")
        for c in paused:
            check.expect(f"{c}: resumed fetching" in node.log_text(), f"the {c} consumer did not resume fetching")
    finally:
        stop.set()
        code = node.stop()
        broker.stop()
        db.stop()
        subprocess.run(["rm", "-rf", db.dir])
    check.expect(code == 0, f"node exited with {code}")
    check.finish()


if __name__ == "__main__":
    main()
