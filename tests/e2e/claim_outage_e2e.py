"""Fault: PostgreSQL is down while a node is assigned partitions. Two nodes
run; PostgreSQL stops and one node is SIGKILLed, so the group hands its
partitions to the survivor, whose claim in partition_owners fails. The
claim is retried in the background (the rebalance callback does not wait
for it); PostgreSQL stays down longer than the old in-callback retries
lasted (15 s). Once PostgreSQL is back, the survivor claims every
partition, is ready again, and orders of every partition complete: nothing
stays fenced."""
import subprocess
import time

from pg_outage_e2e import OwnDatabase
from troupe_env import Broker, Check, Node, http, log, order_mix, post_orders, wait_final

PARTITIONS = 6


def main():
    check = Check()
    db = OwnDatabase()
    broker = Broker(partitions=PARTITIONS)
    extra = ["--saga.deadline=120s", "--kafka.session-timeout=3s"]
    a = Node(db, broker, name="node-a", extra=extra)
    b = Node(db, broker, name="node-b", extra=extra)
    try:
        a.start(wait=False)
        b.start(wait=False)
        a.wait_ready()
        b.wait_ready()
        bodies = order_mix(30, seed=1)
        ids = post_orders(a.url, bodies, key_prefix="before")
        final = wait_final(db, ids, timeout=60)
        check.expect(len(final) == len(ids), f"before: {len(final)} of {len(ids)} orders final")
        owners = db.query("SELECT owner, count(*) FROM partition_owners GROUP BY 1 ORDER BY 1")
        log("owners before:", owners)

        log("stopping PostgreSQL, killing node-b")
        db.stop()
        b.kill()
        # The group moves node-b's partitions to node-a (about 2 x session
        # timeout); its claim fails and is retried meanwhile.
        deadline = time.time() + 40
        while time.time() < deadline and "claiming partition(s) failed" not in a.log_text():
            time.sleep(0.5)
        check.expect("claiming partition(s) failed" in a.log_text(), "node-a never tried to claim while PG was down")
        status, _ = http("GET", a.url + "/health")
        check.expect(status == 200, f"/health during the outage answered {status}")
        time.sleep(20)  # longer than the 30 x 500 ms the claim used to get
        status, body = http("GET", a.url + "/ready")
        check.expect(status == 503, f"/ready during the outage answered {status}")

        log("starting PostgreSQL again")
        db.url = db.start()
        back_at = len(a.log_text())
        a.wait_ready(timeout=30)
        owners = db.query("SELECT owner, count(*) FROM partition_owners GROUP BY 1")
        log("owners after:", owners)
        check.expect(owners == [["node-a", str(PARTITIONS)]], f"partition owners after the outage: {owners}")
        check.expect("claimed" in a.log_text() and "failed attempt(s)" in a.log_text(),
                     "node-a did not log its claim after the outage")

        bodies = order_mix(60, seed=2)
        ids = post_orders(a.url, bodies, key_prefix="after")
        final = wait_final(db, ids, timeout=45)
        check.expect(len(final) == len(ids), f"after: {len(final)} of {len(ids)} orders final")
        parts = db.scalar("SELECT count(DISTINCT kafka_partition) FROM partition_owners")
        log(f"{len(final)} of {len(ids)} orders final after the outage; {parts} partitions owned")
        fenced = a.log_text()[back_at:].count("partition moved")
        check.expect(fenced == 0, f"{fenced} saga write(s) of node-a were fenced after the outage")
    finally:
        for n in (a, b):
            if n.proc and n.proc.poll() is None:
                n.stop()
        broker.stop()
        try:
            db.stop()
        except Exception:
            pass
        subprocess.run(["rm", "-rf", db.dir])
    check.finish()


if __name__ == "__main__":
    main()
