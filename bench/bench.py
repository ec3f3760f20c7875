#!/usr/bin/env python3
"""Troupe benchmark: every figure comes from measurement in this run.

Started by bench/bench.sh (`make bench`); see bench/README.md for the
phases, the knobs and what each figure means. Writes bench/out/summary.json,
the latency histograms (SVG) and prints a summary at the end.
"""
import json
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)
env = os.environ


def knob(name, quick, full, cast=int):
    return cast(env.get(name, quick if QUICK else full))


QUICK = env.get("BENCH_QUICK", "") not in ("", "0")
BUILD = env.get("BUILD_DIR", "build")
OUT = "bench/out"
PG_PORT = int(env.get("BENCH_PG_PORT", 55440))
HTTP_PORT = int(env.get("BENCH_HTTP_PORT", 18080))
MEM_HTTP_PORT = int(env.get("BENCH_MEM_HTTP_PORT", HTTP_PORT + 1))
# Orders per closed-loop (and POST-only) run: ORDERS if set, otherwise what
# the warm-up's rate finishes in BENCH_CLOSED_S seconds, within bounds.
ORDERS_SET = int(env["ORDERS"]) if env.get("ORDERS") else None
CLOSED_S = knob("BENCH_CLOSED_S", 8, 40, float)
ORDERS_MIN, ORDERS_MAX = (300, 2000) if QUICK else (3000, 15000)
WARMUP = 300 if QUICK else 1000
MEM_MAX_S = knob("BENCH_MEM_MAX_S", 90, 480, float)  # longest the memory loading may take
CONCURRENCIES = [int(c) for c in env.get("BENCH_CONCURRENCIES", "32,64").split(",")]
PHASE_S = knob("BENCH_PHASE_S", 6, 30, float)  # each fixed-rate run and the overload run
SAGAS = knob("BENCH_SAGAS", 5000, 100000)
PGBENCH_T = knob("BENCH_PGBENCH_T", 5, 20)
# The bound of the overload run, by Little's law from the closed loop's rate:
# the bound over the throughput is how long an accepted order waits, so
# rate x BENCH_ADMISSION_WAIT_S (unless BENCH_MAX_IN_FLIGHT sets it). The
# other runs keep the node's default (BENCH_MAIN_MAX_IN_FLIGHT overrides it).
MAX_IN_FLIGHT_SET = int(env["BENCH_MAX_IN_FLIGHT"]) if env.get("BENCH_MAX_IN_FLIGHT") else None
ADMISSION_WAIT_S = float(env.get("BENCH_ADMISSION_WAIT_S", 0.15))
MAX_IN_FLIGHT = MAX_IN_FLIGHT_SET or 128
MAIN_MAX_IN_FLIGHT = env.get("BENCH_MAIN_MAX_IN_FLIGHT", "")
SWEEP = [0.25, 0.5, 0.75, 1.0]
OVERLOAD = 2.0
OVERLOAD_CONCURRENCY = int(env.get("BENCH_OVERLOAD_CONCURRENCY", 128))
PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
NODE = f"{BUILD}/apps/troupe-node/troupe-node"
BROKER = f"{BUILD}/apps/troupe-broker/troupe-broker"
LOAD = f"{BUILD}/apps/troupe-load/troupe-load"
TCK = os.sysconf("SC_CLK_TCK")
MEM_ROLES = '["api","inventory","orchestrator","notification","analytics","intake"]'

procs = []  # every process this run started, stopped at the end


def log(msg):
    print(f"bench: {msg}", flush=True)


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


# --- /proc ---------------------------------------------------------------

def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()  # fields from 3 (state) on


def cpu_ticks(pid, children=False):
    f = stat_fields(pid)
    ticks = int(f[11]) + int(f[12])  # utime, stime
    if children:
        ticks += int(f[13]) + int(f[14])  # cutime, cstime: children reaped
    return ticks


def pg_ticks(postmaster):
    """The postmaster, its live children (backends, background workers) and,
    through cutime/cstime, every child that already ended."""
    total = cpu_ticks(postmaster, children=True)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            f = stat_fields(d)
            if int(f[1]) == postmaster:
                total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
        except (OSError, ValueError, IndexError):
            pass
    return total


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


# --- PostgreSQL ----------------------------------------------------------

PSQL_CALLS = [0]  # this script's own transactions in the troupe database


def psql(sql, db="troupe"):
    PSQL_CALLS[0] += db == "troupe"
    return sh("psql", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "troupe", "-d", db,
              "-qAtX", "-c", sql).strip()


def statements():
    """pg_stat_statements of the troupe database, without this script's own
    queries (marked /*bench*/)."""
    rows = psql("/*bench*/ SELECT coalesce(json_agg(t), '[]') FROM ("
                "SELECT s.calls, s.rows, s.total_exec_time, s.query "
                "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
                "WHERE d.datname = 'troupe' AND s.query NOT LIKE '%/*bench*/%' "
                "AND s.query NOT LIKE '%pg_stat_statements%' ORDER BY s.calls DESC) t")
    return json.loads(rows)


def xacts():
    return int(psql("/*bench*/ SELECT xact_commit + xact_rollback FROM pg_stat_database "
                    "WHERE datname = 'troupe'"))


def db_now():
    return psql("/*bench*/ SELECT clock_timestamp()")


def server_latency(since):
    """created_at to finalized_at of the orders created since then: the
    engine's own latency, without the load generator's polling."""
    row = psql("/*bench*/ SELECT json_build_object('orders', count(*), "
               "'p50', percentile_cont(0.5) WITHIN GROUP (ORDER BY d), "
               "'p90', percentile_cont(0.9) WITHIN GROUP (ORDER BY d), "
               "'p99', percentile_cont(0.99) WITHIN GROUP (ORDER BY d), 'max', max(d)) FROM ("
               "SELECT extract(epoch FROM finalized_at - created_at) * 1000 AS d FROM orders "
               f"WHERE created_at >= '{since}' AND finalized_at IS NOT NULL) t")
    r = json.loads(row)
    return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()}


TXN_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION|SAVEPOINT|RELEASE)\b", re.I)


# --- processes -----------------------------------------------------------

def start(args, logfile):
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=open(logfile, "w"),
                         stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_broker(bootstrap):
    if os.path.exists(bootstrap):
        os.remove(bootstrap)
    p = start([BROKER, f"--bootstrap-file={bootstrap}"], bootstrap.replace(".txt", ".log"))
    for _ in range(100):
        if os.path.exists(bootstrap) and os.path.getsize(bootstrap) > 0:
            return p
        time.sleep(0.1)
    raise RuntimeError("troupe-broker wrote no bootstrap file")


def start_node(url, bootstrap, port, logfile, *extra):
    p = start([NODE, "--config-file=config/dev.ini", f"--postgres.url={url}",
               f"--kafka.bootstrap-file={bootstrap}", f"--http.port={port}",
               "--kafka.fetch-wait-max-ms=1", "--log.level=warn", *extra], logfile)
    deadline = time.time() + 90
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"troupe-node exited; see {logfile}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                if r.status == 200:
                    return p
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"troupe-node not ready; see {logfile}")


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return None


def run_load(args):
    """troupe-load with --json; its own CPU from the rusage of the child."""
    t = time.time()
    p = subprocess.Popen([LOAD, *args, "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"troupe-load {' '.join(args)}: no JSON (exit {p.returncode})")
    res = json.loads(lines[-1])
    res["exit_code"] = p.returncode
    return res, ru.ru_utime + ru.ru_stime, time.time() - t


class Cpu:
    """CPU seconds of node, PostgreSQL and broker between two samples."""

    def __init__(self, node, postmaster, broker):
        self.pids = dict(node=node, postmaster=postmaster, broker=broker)
        self.t0 = self.sample()

    def sample(self):
        return dict(node=cpu_ticks(self.pids["node"]),
                    postgresql=pg_ticks(self.pids["postmaster"]),
                    broker=cpu_ticks(self.pids["broker"]))

    def done(self, load_cpu_s, orders):
        t1 = self.sample()
        secs = {k: (t1[k] - self.t0[k]) / TCK for k in t1}
        secs["load_generator"] = load_cpu_s
        secs = {k: round(v, 2) for k, v in secs.items()}
        per = {k: round(v / orders * 1000, 3) if orders else None for k, v in secs.items()}
        total = sum(secs.values())
        return dict(seconds=secs, per_1000_orders=per, orders=orders,
                    total_per_1000_orders=round(total / orders * 1000, 3) if orders else None)


def finals(load):
    return sum(load.get("by_outcome", {}).values())


def memory_phase(url, db, passivate, hold):
    """RSS of a node before and after SAGAS open sagas. `hold`: wait until an
    orchestrator holds each (passivation off); otherwise wait past the
    passivation time and count the open sagas in the database."""
    label = "live orchestrators" if hold else "open sagas, default passivation"
    log(f"memory: {SAGAS} {label}, on a node without the payment role")
    sh("createdb", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "troupe", db)
    mem_url = url.rsplit("/", 1)[0] + "/" + db
    broker2 = start_broker(f"{OUT}/bootstrap-mem.txt")
    mnode = start_node(mem_url, f"{OUT}/bootstrap-mem.txt", MEM_HTTP_PORT, f"{OUT}/node-{db}.log",
                       f"--node.roles={MEM_ROLES}", "--saga.deadline=24h",
                       "--saga.max-in-flight=0", *([passivate] if passivate else []))
    mem_node_url = f"http://127.0.0.1:{MEM_HTTP_PORT}"
    time.sleep(3)

    def point(loaded):
        return dict(sagas=loaded, live=metric(MEM_HTTP_PORT, "troupe_live_orchestrators"),
                    open=int(psql("/*bench*/ SELECT count(*) FROM orders WHERE status = 'NEW'", db)),
                    rss=rss_bytes(mnode.pid))
    points = [point(0)]
    chunk = max(1, SAGAS // 10)
    t0 = time.time()
    loaded = 0
    while loaded < SAGAS:
        if time.time() - t0 > MEM_MAX_S:
            log(f"  stopping at {loaded} sagas: loading took over {MEM_MAX_S:.0f} s (BENCH_MEM_MAX_S)")
            break
        count = min(chunk, SAGAS - loaded)
        run_load([f"--url={mem_node_url}", f"--orders={count}", "--concurrency=64",
                  "--mix=ok:1", "--no-wait", "--timeout=1200"])
        loaded += count
        # Every saga of this chunk held by an orchestrator (or reserved and
        # waiting), or no progress for 60 s.
        last, since = -1, time.time()
        while time.time() - since < 60:
            held = (metric(MEM_HTTP_PORT, "troupe_live_orchestrators") or 0) if hold else \
                int(psql("/*bench*/ SELECT count(*) FROM orders WHERE status = 'NEW' "
                         "AND inventory_status IS NOT NULL", db))
            if held >= loaded:
                break
            if held != last:
                last, since = held, time.time()
            time.sleep(0.5)
        if loaded == chunk or loaded >= SAGAS or time.time() - t0 > MEM_MAX_S:
            if not hold and loaded >= SAGAS:
                # Past saga.passivate-after (10s), a sweep, and jemalloc's
                # return of freed pages (10 s).
                time.sleep(25)
            time.sleep(3)
            points.append(point(loaded))
            log(f"  {points[-1]['open']} open sagas, {int(points[-1]['live'])} live orchestrators, "
                f"RSS {points[-1]['rss'] / 2**20:.1f} MiB")
    loaded_s = time.time() - t0
    p0, p1, p2 = points[0], points[1], points[-1]
    per = p2["live"] - (p0["live"] or 0) if hold else p2["open"] - p0["open"]
    out = dict(
        sagas=SAGAS, sagas_posted=loaded, live_orchestrators=p2["live"], open_sagas=p2["open"],
        passivated=metric(MEM_HTTP_PORT, "troupe_orchestrators_passivated_total"),
        loaded_s=round(loaded_s, 1), points=points, per="live orchestrator" if hold else "open saga",
        bytes_per_saga=round((p2["rss"] - p0["rss"]) / per) if per else None,
        target_bytes_per_saga=2048)
    if hold:
        out["marginal_bytes_per_saga"] = round((p2["rss"] - p1["rss"]) / (p2["live"] - p1["live"])) \
            if p2["live"] > p1["live"] else None
    stop(mnode)
    stop(broker2)
    return out


def main():
    global MAX_IN_FLIGHT
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith((".json", ".svg")):
            os.remove(os.path.join(OUT, f))
    summary = dict(quick=QUICK, started_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    t_run = time.time()
    lscpu = sh("lscpu")
    model = re.search(r"Model name:\s*(.*)", lscpu)
    summary["machine"] = dict(
        nproc=int(sh("nproc").strip()), cpu_model=model.group(1).strip() if model else None,
        os=(re.search(r'PRETTY_NAME="(.*)"', open("/etc/os-release").read()) or [None, None])[1],
        kernel=platform.release(), lscpu_head=lscpu.splitlines()[:10],
        hypervisor=(re.search(r"Hypervisor vendor:\s*(.*)", lscpu) or [None, None])[1], loadavg_at_start=os.getloadavg(),
        mem_total_kib=int(re.search(r"MemTotal:\s*(\d+)", open("/proc/meminfo").read()).group(1)),
        note="shared machine: other work may have been running; compare figures as ratios within one run")
    summary["settings"] = dict(orders_env=ORDERS_SET, closed_s=CLOSED_S, mem_max_s=MEM_MAX_S,
                               concurrencies=CONCURRENCIES,
                               phase_s=PHASE_S, sagas=SAGAS, pgbench_seconds=PGBENCH_T,
                               max_in_flight=MAX_IN_FLIGHT,
                               main_max_in_flight=MAIN_MAX_IN_FLIGHT or "node default",
                               overload_factor=OVERLOAD,
                               overload_concurrency=OVERLOAD_CONCURRENCY)

    log("starting PostgreSQL (durable, pg_stat_statements), troupe-broker and one node")
    sh("rm", "-rf", f"{OUT}/pg")
    url = sh("scripts/pg.sh", "start", f"{OUT}/pg", str(PG_PORT), "--durable",
             "--stat-statements").strip().splitlines()[-1]
    datadir = psql("/*bench*/ SHOW data_directory")
    postmaster = int(open(f"{datadir}/postmaster.pid").readline())
    broker = start_broker(f"{OUT}/bootstrap.txt")
    node = start_node(url, f"{OUT}/bootstrap.txt", HTTP_PORT, f"{OUT}/node.log",
                      *([f"--saga.max-in-flight={MAIN_MAX_IN_FLIGHT}"] if MAIN_MAX_IN_FLIGHT else []))
    node_url = f"http://127.0.0.1:{HTTP_PORT}"

    # pgbench against the same PostgreSQL, in a database of its own.
    log(f"pgbench -i -s 10, then pgbench -c 2 -j 2 -T {PGBENCH_T}")
    sh("createdb", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "troupe", "pgbench")
    sh(PGBENCH, "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "troupe", "-i", "-s", "10", "-q", "pgbench")
    out = sh(PGBENCH, "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "troupe", "-c", "2", "-j", "2",
             "-T", str(PGBENCH_T), "pgbench")
    open(f"{OUT}/pgbench.log", "w").write(out)
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial", out).group(1))
    summary["pgbench"] = dict(tps=tps, clients=2, threads=2, seconds=PGBENCH_T, scale=10)
    psql("/*bench*/ CHECKPOINT")  # pgbench's writes are not flushed during the next run

    # Warm-up: first connections, prepared statements, topic metadata; its
    # rate sizes the closed-loop runs (unless ORDERS is set).
    warm, _, _ = run_load([f"--url={node_url}", f"--orders={WARMUP}",
                           f"--concurrency={CONCURRENCIES[-1]}", "--timeout=300"])
    ORDERS = ORDERS_SET or max(ORDERS_MIN, min(ORDERS_MAX, int(warm["e2e_rate"] * CLOSED_S)))
    summary["settings"]["orders_per_closed_loop"] = ORDERS
    summary["warmup"] = dict(orders=WARMUP, e2e_rate=warm["e2e_rate"])
    log(f"warm-up: {WARMUP} orders at {warm['e2e_rate']} orders/s; {ORDERS} orders per closed-loop run")

    # Idle: what the processes burn with no orders (consumers polling with
    # kafka.fetch-wait-max-ms=1, the admission count every 50 ms, sweeps).
    idle_s = 3 if QUICK else 10
    time.sleep(2)  # the warm-up's last notifications
    cpu = Cpu(node.pid, postmaster, broker.pid)
    time.sleep(idle_s)
    idle = cpu.done(0, 1)["seconds"]
    del idle["load_generator"]
    summary["idle_cpu_per_s"] = {k: round(v / idle_s, 3) for k, v in idle.items()}

    # Closed loop: each client posts its next order as soon as the POST is
    # answered; the run ends when every order is final.
    summary["closed_loop"] = []
    for c in CONCURRENCIES:
        log(f"closed loop: troupe-load --orders={ORDERS} --concurrency={c}")
        since = db_now()
        cpu = Cpu(node.pid, postmaster, broker.pid)
        load, load_cpu, _ = run_load([f"--url={node_url}", f"--orders={ORDERS}",
                                      f"--concurrency={c}", "--timeout=600",
                                      f"--svg={OUT}/latency-c{c}.svg"])
        load["cpu"] = cpu.done(load_cpu, finals(load))
        load["server_latency_ms"] = server_latency(since)
        summary["closed_loop"].append(load)
    best = max(r["e2e_rate"] for r in summary["closed_loop"])

    # POST only, no polling: the cost of an order alone, statements included.
    log(f"statements: troupe-load --no-wait --orders={ORDERS} --concurrency={CONCURRENCIES[-1]}, "
        "then until every order is final")
    psql("/*bench*/ SELECT pg_stat_statements_reset()")
    x0, calls0 = xacts(), PSQL_CALLS[0]
    cpu = Cpu(node.pid, postmaster, broker.pid)
    t0 = time.time()
    load, load_cpu, _ = run_load([f"--url={node_url}", f"--orders={ORDERS}",
                                  f"--concurrency={CONCURRENCIES[-1]}", "--no-wait", "--timeout=600"])
    open_sql = ("/*bench*/ SELECT (SELECT count(*) FROM orders WHERE status = 'NEW') + "
                "(SELECT count(*) FROM outbox WHERE published_at IS NULL)")
    while int(psql(open_sql)) > 0 and time.time() - t0 < 900:
        time.sleep(0.2)
    drained = time.time() - t0
    time.sleep(2)  # notification and analytics of the last orders
    stmts = statements()
    own = PSQL_CALLS[0] - calls0  # x0's own transaction and every poll since, not x1's
    x1 = xacts()
    n = load["orders"] - load["errors"]
    load["cpu"] = cpu.done(load_cpu, n)
    total_calls = sum(s["calls"] for s in stmts)
    control = sum(s["calls"] for s in stmts if TXN_CONTROL.match(s["query"]))
    summary["post_only"] = dict(
        load=load, orders=n, drained_s=round(drained, 2), e2e_rate=round(n / drained, 1),
        cpu=load["cpu"],
        statements_per_order=round((total_calls - control) / n, 2),
        round_trips_per_order=round(total_calls / n, 2),
        transactions_per_order=round((x1 - x0 - own) / n, 3),
        exec_ms_per_order=round(sum(s["total_exec_time"] for s in stmts) / n, 3),
        top_statements=[dict(calls_per_order=round(s["calls"] / n, 3),
                             rows_per_call=round(s["rows"] / s["calls"], 2) if s["calls"] else 0,
                             mean_ms=round(s["total_exec_time"] / s["calls"], 4) if s["calls"] else 0,
                             query=re.sub(r"\s+", " ", s["query"])[:200])
                        for s in stmts[:15]])
    json.dump(stmts, open(f"{OUT}/pg_stat_statements.json", "w"), indent=1)

    # Open loop at fixed rates, up to the closed-loop rate.
    summary["sweep"] = []
    for frac in SWEEP:
        rate = round(best * frac, 1)
        n = max(100, int(rate * PHASE_S))
        log(f"fixed rate {int(frac * 100)}%: troupe-load --rate={rate} --orders={n}")
        since = db_now()
        cpu = Cpu(node.pid, postmaster, broker.pid)
        load, load_cpu, _ = run_load([f"--url={node_url}", f"--orders={n}", f"--rate={rate}",
                                      f"--concurrency={CONCURRENCIES[-1]}", "--timeout=600",
                                      f"--svg={OUT}/latency-rate-{int(frac * 100)}.svg"])
        load["fraction"] = frac
        load["cpu"] = cpu.done(load_cpu, finals(load))
        load["server_latency_ms"] = server_latency(since)
        summary["sweep"].append(load)

    # Overload: twice the closed-loop rate; admission control sheds (503),
    # troupe-load backs off and retries a shed order until it is accepted.
    rate = round(best * OVERLOAD, 1)
    n = int(rate * PHASE_S)
    MAX_IN_FLIGHT = MAX_IN_FLIGHT_SET or max(16, round(best * ADMISSION_WAIT_S))
    summary["settings"]["max_in_flight"] = MAX_IN_FLIGHT
    summary["settings"]["admission_wait_s"] = None if MAX_IN_FLIGHT_SET else ADMISSION_WAIT_S
    log(f"restarting the node with --saga.max-in-flight={MAX_IN_FLIGHT}")
    stop(node)
    node = start_node(url, f"{OUT}/bootstrap.txt", HTTP_PORT, f"{OUT}/node-overload.log",
                      f"--saga.max-in-flight={MAX_IN_FLIGHT}")
    run_load([f"--url={node_url}", "--orders=200", "--concurrency=16", "--timeout=120"])
    log(f"overload: troupe-load --rate={rate} --orders={n} --concurrency={OVERLOAD_CONCURRENCY} "
        f"(saga.max-in-flight={MAX_IN_FLIGHT})")
    shed0 = metric(HTTP_PORT, "troupe_orders_shed_total") or 0
    since = db_now()
    cpu = Cpu(node.pid, postmaster, broker.pid)
    load, load_cpu, _ = run_load([f"--url={node_url}", f"--orders={n}", f"--rate={rate}",
                                  f"--concurrency={OVERLOAD_CONCURRENCY}", "--timeout=900",
                                  f"--svg={OUT}/latency-overload.svg"])
    load["cpu"] = cpu.done(load_cpu, finals(load))
    post_s = load["orders"] / load["post_rate"] if load["post_rate"] else 0
    accepted = load["orders"] - load["errors"]
    attempts = accepted + load["shed"] + load["errors"]
    summary["overload"] = dict(
        load=load, offered_rate=rate, posting_s=round(post_s, 2),
        attempts=attempts, accepted=accepted, shed_answers=load["shed"],
        orders_shed_at_least_once=load["retried"], errors=load["errors"],
        attempt_rate=round(attempts / post_s, 1) if post_s else None,
        accepted_rate=round(accepted / post_s, 1) if post_s else None,
        shed_rate=round(load["shed"] / post_s, 1) if post_s else None,
        shed_fraction_of_attempts=round(load["shed"] / attempts, 3) if attempts else None,
        schedule_s=round(n / rate, 2),
        e2e_rate=load["e2e_rate"], accepted_final_latency_ms=load["accepted_final_latency_ms"],
        scheduled_final_latency_ms=load["final_latency_ms"],
        server_latency_ms=server_latency(since),
        node_shed_metric_delta=(metric(HTTP_PORT, "troupe_orders_shed_total") or 0) - shed0)
    stop(node)

    # Memory, twice, on a node without the payment role (every saga waits,
    # its deadline far away, once its stock is reserved): first with
    # passivation off, so every open saga holds a live orchestrator (the
    # cost of one); then with the node's default saga.passivate-after, the
    # node's resident memory per open saga as it runs.
    summary["memory"] = memory_phase(url, "troupe_mem", "--saga.passivate-after=0s", True)
    summary["memory_passivated"] = memory_phase(url, "troupe_mem2", None, False)

    summary["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    summary["wall_s"] = round(time.time() - t_run, 1)
    summary["machine"]["loadavg_at_end"] = os.getloadavg()
    json.dump(summary, open(f"{OUT}/summary.json", "w"), indent=2)
    print_summary(summary)


def print_summary(s):
    m = s["machine"]
    p = print
    p()
    p(f"Troupe benchmark {'(quick) ' if s['quick'] else ''}{s['started_utc']} .. {s['finished_utc']} "
      f"({s['wall_s'] / 60:.1f} min)")
    p(f"machine: {m['os']}, {m['nproc']} cores, {m['cpu_model']}; load average at start "
      f"{m['loadavg_at_start'][0]:.2f}, at end {m['loadavg_at_end'][0]:.2f} "
      "(shared machine: compare as ratios within this run)")
    tps = s["pgbench"]["tps"]
    p()
    p(f"pgbench TPS (durable, -c 2 -j 2 -T {s['pgbench']['seconds']})      {tps:10.1f}")
    for r in s["closed_loop"]:
        fl = r["final_latency_ms"]
        p(f"closed loop, concurrency {r['concurrency']:3}: {r['e2e_rate']:8.1f} orders/s "
          f"({r['e2e_rate'] / tps:.2f} x pgbench TPS)  POST->final p50 {fl['p50']} p99 {fl['p99']} ms  "
          f"shed {r['shed']} answers, stuck {r['stuck']}, mismatches {r['mismatches']}")
        sl = r["server_latency_ms"]
        p(f"    in the database, created -> finalized: p50 {sl['p50']} p99 {sl['p99']} ms")
    po = s["post_only"]
    p(f"POST only (no polling), c{po['load']['concurrency']}: {po['orders']} orders final in "
      f"{po['drained_s']} s = {po['e2e_rate']} orders/s ({po['e2e_rate'] / tps:.2f} x pgbench TPS)")
    p()
    p("fixed rate (open loop)     rate   achieved  POST->final p50     p99   shed   in the database p50    p99")
    for r in s["sweep"]:
        fl, sl = r["final_latency_ms"], r["server_latency_ms"]
        p(f"  {int(r['fraction'] * 100):3}% of closed loop {r['rate']:8.1f} {r['e2e_rate']:10.1f} "
          f"{fl['p50']:12.1f} {fl['p99']:8.1f} {r['shed']:6} {sl['p50']:17.1f} {sl['p99']:6.1f}")
    o = s["overload"]
    p()
    p(f"overload: offered {o['offered_rate']} orders/s ({s['settings']['overload_factor']}x closed loop), "
      f"saga.max-in-flight={s['settings']['max_in_flight']}, {o['load']['concurrency']} clients")
    p(f"  {o['accepted']} orders scheduled over {o['schedule_s']} s, posted over {o['posting_s']} s")
    p(f"  {o['attempts']} POST attempts ({o['attempt_rate']}/s): accepted "
      f"{o['accepted']} ({o['accepted_rate']}/s), shed {o['shed_answers']} x 503 ({o['shed_rate']}/s, "
      f"{o['shed_fraction_of_attempts'] * 100:.1f} % of attempts; {o['orders_shed_at_least_once']} orders "
      f"shed at least once), errors {o['errors']}")
    fl, sl = o["accepted_final_latency_ms"], o["scheduled_final_latency_ms"]
    p(f"  end to end {o['e2e_rate']} orders/s; accepted orders, accepted POST->final p50 {fl['p50']} "
      f"p99 {fl['p99']} ms (from the scheduled start or last 503: p50 {sl['p50']} p99 {sl['p99']} ms)")
    dl = o["server_latency_ms"]
    p(f"  in the database, created -> finalized: p50 {dl['p50']} p99 {dl['p99']} ms")
    p()
    p("CPU seconds per 1000 orders      node  postgresql  broker  load-gen   total")
    rows = [(f"closed loop c{r['concurrency']}", r["cpu"]) for r in s["closed_loop"]]
    rows.append(("POST only (no polling)", po["cpu"]))
    rows += [(f"fixed rate {int(r['fraction'] * 100)}%", r["cpu"]) for r in s["sweep"]]
    rows.append(("overload (503s included)", o["load"]["cpu"]))
    for name, c in rows:
        q = c["per_1000_orders"]
        p(f"  {name:28} {q['node']:6.2f} {q['postgresql']:11.2f} {q['broker']:7.2f} "
          f"{q['load_generator']:9.2f} {c['total_per_1000_orders']:7.2f}")
    ic = s["idle_cpu_per_s"]
    p(f"  idle, no orders: CPU s per s   {ic['node']:6.2f} {ic['postgresql']:11.2f} {ic['broker']:7.2f}"
      "   (included in the rows above)")
    p()
    p(f"PostgreSQL per order (POST only run, pg_stat_statements): {po['statements_per_order']} "
      f"statements, {po['round_trips_per_order']} round trips (statements + BEGIN/COMMIT), "
      f"{po['transactions_per_order']} transactions, {po['exec_ms_per_order']} ms execution")
    p("  top statements by calls per order:")
    for t in po["top_statements"][:10]:
        p(f"  {t['calls_per_order']:8.3f}  {t['query'][:110]}")
    mm = s["memory"]
    p()
    p(f"memory: {int(mm['live_orchestrators'])} live orchestrators (target {mm['sagas']}, passivation off), node RSS "
      f"{mm['points'][0]['rss'] / 2**20:.1f} -> {mm['points'][-1]['rss'] / 2**20:.1f} MiB: "
      f"{mm['bytes_per_saga']} bytes per live orchestrator (marginal, from {int(mm['points'][1]['live'])}: "
      f"{mm['marginal_bytes_per_saga']})")
    mp = s.get("memory_passivated")
    if mp:
        p(f"memory: {mp['open_sagas']} open sagas, default passivation ({int(mp['passivated'] or 0)} passivated, "
          f"{int(mp['live_orchestrators'])} live), node RSS {mp['points'][0]['rss'] / 2**20:.1f} -> "
          f"{mp['points'][-1]['rss'] / 2**20:.1f} MiB: {mp['bytes_per_saga']} bytes per open saga; "
          f"target <= {mp['target_bytes_per_saga']}")
    p()
    p(f"figures: {OUT}/summary.json; latency histograms: {OUT}/latency-c*.svg, "
      f"{OUT}/latency-rate-*.svg, {OUT}/latency-overload.svg")


def markdown(s):
    """The figures as the README's Performance section shows them."""
    m, tps, p = s["machine"], s["pgbench"]["tps"], print
    p(f"Run of {s['started_utc'][:16].replace('T', ' ')} UTC ({s['wall_s'] / 60:.0f} min), "
      f"{m['os']}, {m['nproc']} cores ({m['cpu_model']}, {m['hypervisor'] or 'bare metal'} guest), "
      f"{m['mem_total_kib'] / 2**20:.0f} GiB; load average {m['loadavg_at_start'][0]:.2f} at the start, "
      f"{m['loadavg_at_end'][0]:.2f} at the end.")
    p()
    p("| figure | value | ratio |")
    p("|---|---|---|")
    p(f"| pgbench `-c 2 -j 2 -T {s['pgbench']['seconds']}`, durable | {tps:.0f} TPS | 1 |")
    for r in s["closed_loop"]:
        fl = r["final_latency_ms"]
        sl = r["server_latency_ms"]
        p(f"| closed loop, concurrency {r['concurrency']} ({r['orders']} orders) | {r['e2e_rate']:.0f} orders/s, "
          f"POST→final p50 {fl['p50']:.0f} ms, p99 {fl['p99']:.0f} ms (in the database {sl['p50']:.0f}, "
          f"{sl['p99']:.0f} ms) | {r['e2e_rate'] / tps:.2f} × TPS |")
    po = s["post_only"]
    p(f"| POST only, no polling, concurrency {po['load']['concurrency']} | {po['e2e_rate']:.0f} orders/s | "
      f"{po['e2e_rate'] / tps:.2f} × TPS |")
    p99_low = s["sweep"][0]["final_latency_ms"]["p99"] or 1
    for r in s["sweep"]:
        fl = r["final_latency_ms"]
        sl = r["server_latency_ms"]
        p(f"| fixed rate {int(r['fraction'] * 100)} % ({r['rate']:.0f} orders/s) | {r['e2e_rate']:.0f} orders/s, "
          f"POST→final p50 {fl['p50']:.0f} ms, p99 {fl['p99']:.0f} ms (in the database {sl['p50']:.0f}, "
          f"{sl['p99']:.0f} ms) | p99 {fl['p99'] / p99_low:.1f} × the 25 % p99 |")
    o = s["overload"]
    fl = o["accepted_final_latency_ms"]
    p(f"| overload: offered {o['offered_rate']:.0f} orders/s, `saga.max-in-flight={s['settings']['max_in_flight']}` | "
      f"{o['attempts']} POSTs: {o['accepted']} accepted ({o['accepted_rate']:.0f}/s), {o['shed_answers']} shed "
      f"({o['shed_rate']:.0f}/s, {o['orders_shed_at_least_once']} orders hit); accepted POST→final p50 "
      f"{fl['p50']:.0f} ms, p99 {fl['p99']:.0f} ms (in the database {o['server_latency_ms']['p50']:.0f}, "
      f"{o['server_latency_ms']['p99']:.0f} ms) | accepted {o['accepted_rate'] / o['offered_rate']:.2f} × offered |")
    c = po["cpu"]["per_1000_orders"]
    p(f"| CPU s per 1000 orders (POST only): node, PostgreSQL, broker, load generator | {c['node']:.2f}, "
      f"{c['postgresql']:.2f}, {c['broker']:.2f}, {c['load_generator']:.2f} | "
      f"PostgreSQL {c['postgresql'] / c['node']:.2f} × node |")
    for r in s["closed_loop"]:
        c = r["cpu"]["per_1000_orders"]
        p(f"| CPU s per 1000 orders (closed loop c{r['concurrency']}, polling included) | {c['node']:.2f}, "
          f"{c['postgresql']:.2f}, {c['broker']:.2f}, {c['load_generator']:.2f} | "
          f"PostgreSQL {c['postgresql'] / c['node']:.2f} × node |")
    ic = s["idle_cpu_per_s"]
    p(f"| idle CPU s per s: node, PostgreSQL, broker | {ic['node']:.2f}, {ic['postgresql']:.2f}, {ic['broker']:.2f} | |")
    p(f"| PostgreSQL per order (pg_stat_statements) | {po['statements_per_order']} statements, "
      f"{po['round_trips_per_order']} round trips, {po['transactions_per_order']} transactions | "
      f"{po['statements_per_order'] / po['transactions_per_order']:.1f} statements per transaction |")
    mm = s["memory"]
    p(f"| RSS per live orchestrator ({int(mm['live_orchestrators'])}, passivation off) | {mm['bytes_per_saga']} bytes "
      f"(marginal {mm['marginal_bytes_per_saga']}) | {mm['bytes_per_saga'] / mm['target_bytes_per_saga']:.2f} × 2 KiB |")
    mp = s.get("memory_passivated")
    if mp:
        p(f"| RSS per open saga ({mp['open_sagas']} open, default `saga.passivate-after`, "
          f"{int(mp['live_orchestrators'])} live at the end) | {mp['bytes_per_saga']} bytes | "
          f"{mp['bytes_per_saga'] / mp['target_bytes_per_saga']:.2f} × the 2 KiB target |")
    p()
    p("Top statements by calls per order (POST-only run):")
    p()
    p("| calls/order | statement |")
    p("|---|---|")
    for t in po["top_statements"][:8]:
        q = t["query"][:90].replace("|", "\\|") + ("…" if len(t["query"]) > 90 else "")
        p(f"| {t['calls_per_order']:.2f} | `{q}` |")


def cleanup():
    for p in reversed(procs):
        try:
            stop(p)
        except Exception:
            pass
    subprocess.run(["scripts/pg.sh", "stop", f"{OUT}/pg"], check=False)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if len(sys.argv) > 1 and sys.argv[1] == "--print":
            print_summary(json.load(open(f"{OUT}/summary.json")))
        elif len(sys.argv) > 1 and sys.argv[1] == "--markdown":
            markdown(json.load(open(f"{OUT}/summary.json")))
        else:
            main()
    finally:
        if len(sys.argv) <= 1:
            cleanup()
