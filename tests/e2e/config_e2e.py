"""Configuration: a numeric option outside its range, from a flag, the
environment or the INI file, stops troupe-node with exit code 2 and a
message naming the key and the allowed range; values at the edges of the
ranges start the node. Needs no database or broker: the checks run first."""
import os
import subprocess
import tempfile
import time

from troupe_env import NODE, Check, log

BASE = ["--kafka.brokers=127.0.0.1:1", "--postgres.url=postgresql://nobody@127.0.0.1:1/none"]

# (flag, words the message must contain)
REFUSED = [
    ("--kafka.max-in-flight=0", ["kafka.max-in-flight", "at least 1", "got 0"]),
    ("--tracing.otlp-endpoint=https://collector:4318", ["tracing.otlp-endpoint", "https is not supported"]),
    ("--tracing.otlp-endpoint=collector:4318", ["tracing.otlp-endpoint", "http:// URL"]),
    ("--kafka.max-in-flight=-5", ["kafka.max-in-flight", "at least 1"]),
    ("--retry.jitter=1.5", ["retry.jitter", "between 0 and 1", "got 1.5"]),
    ("--retry.jitter=-0.1", ["retry.jitter", "between 0 and 1"]),
    ("--retry.factor=0.5", ["retry.factor", "between 1 and"]),
    ("--retry.base=-1ms", ["retry.base", "at least 0s"]),
    ("--retry.cap=-1s", ["retry.cap", "at least 0s"]),
    ("--retry.max-attempts=0", ["retry.max-attempts", "at least 1"]),
    ("--retry.base=20s", ["retry.base (20s) must not exceed retry.cap (10s)"]),
    ("--retry.payment-base=20s", ["retry.payment-base (20s) must not exceed retry.payment-cap"]),
    ("--retry.inventory-cap=1ms", ["retry.inventory-base", "retry.inventory-cap (1ms)"]),
    ("--retry.notification-max-attempts=-1", ["retry.notification-max-attempts", "at least 0"]),
    ("--retry.orchestrator-factor=0.5", ["retry.orchestrator-factor", "0 (as retry.*) or between 1"]),
    ("--retry.analytics-base=-5ms", ["retry.analytics-base", "at least 0s"]),
    ("--http.max-body-bytes=0", ["http.max-body-bytes", "between 1 and"]),
    ("--http.port=65536", ["http.port", "between 0 and 65535", "got 65536"]),
    ("--http.port=-1", ["http.port", "between 0 and 65535"]),
    ("--http.threads=0", ["http.threads", "between 1 and"]),
    ("--postgres.pool-size=0", ["postgres.pool-size", "between 1 and 64"]),
    ("--postgres.max-batch=0", ["postgres.max-batch", "between 1 and"]),
    ("--kafka.fetch-wait-max-ms=-1", ["kafka.fetch-wait-max-ms", "between 0 and"]),
    ("--kafka.session-timeout=0s", ["kafka.session-timeout", "between 1s and"]),
    ("--saga.deadline=0s", ["saga.deadline", "greater than 0s"]),
    ("--saga.sweep-interval=0s", ["saga.sweep-interval", "greater than 0s"]),
    ("--inventory.default-stock=-1", ["inventory.default-stock", "at least 0", "got -1"]),
    ("--http.max-connections=0", ["http.max-connections", "between 1 and 100000", "got 0"]),
    ("--http.read-timeout=0s", ["http.read-timeout", "between 100ms and"]),
    ("--http.idle-timeout=2h", ["http.idle-timeout", "between 100ms and"]),
    ("--http.max-header-bytes=100", ["http.max-header-bytes", "between 1024 and 1048576", "got 100"]),
    # Secrets never come from a flag (they would show in the process list).
    ("--http.admin-token=0123456789abcdef0123", ["http.admin-token", "TROUPE_HTTP_ADMIN_TOKEN"]),
    ("--postgres.password=hunter2hunter2", ["postgres.password", "TROUPE_POSTGRES_PASSWORD"]),
]

# Values at the edges of their ranges: the node must get past the checks.
ACCEPTED = [
    ["--kafka.max-in-flight=1", "--http.port=0", "--http.threads=1", "--http.max-body-bytes=1",
     "--postgres.pool-size=1", "--postgres.max-batch=1", "--kafka.fetch-wait-max-ms=0",
     "--inventory.default-stock=0", "--retry.jitter=0", "--retry.factor=1", "--http.max-connections=1",
     "--http.read-timeout=100ms", "--http.idle-timeout=100ms", "--http.max-header-bytes=1024",
     "--tracing.otlp-endpoint=http://127.0.0.1:4318/v1/traces"],
    ["--retry.jitter=1", "--retry.base=0s", "--retry.cap=0s", "--retry.payment-factor=0",
     "--retry.payment-base=5s", "--retry.payment-cap=5s", "--http.port=65535", "--postgres.pool-size=64",
     "--http.max-connections=100000", "--http.read-timeout=1h", "--http.idle-timeout=1h",
     "--http.max-header-bytes=1048576"],
]


def run(args, env=None, timeout=20):
    return subprocess.run([NODE] + BASE + args, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def starts(args):
    """Whether the node gets past its configuration checks: still running
    after a second (it then waits for the unreachable database)."""
    proc = subprocess.Popen([NODE] + BASE + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.5)
    alive = proc.poll() is None
    proc.kill()
    out = proc.communicate()[0]
    if not alive:
        log("exited early:", proc.returncode, out.strip()[:300])
    return alive


def main():
    check = Check()
    for flag, words in REFUSED:
        res = run([flag])
        msg = res.stderr.strip()
        check.expect(res.returncode == 2, f"{flag}: exit code {res.returncode}, want 2 ({msg[:200]})")
        check.expect(all(w in msg for w in words), f"{flag}: message {msg!r} lacks {words}")
    # The environment and the INI file are checked as well.
    res = run([], env={"TROUPE_KAFKA_MAX_IN_FLIGHT": "0"})
    check.expect(res.returncode == 2 and "kafka.max-in-flight" in res.stderr,
                 f"TROUPE_KAFKA_MAX_IN_FLIGHT=0: exit {res.returncode}: {res.stderr.strip()[:200]}")
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write("[retry]\njitter=2.0\n")
    try:
        res = run([f"--config-file={f.name}"])
        check.expect(res.returncode == 2 and "retry.jitter" in res.stderr,
                     f"jitter=2.0 in a file: exit {res.returncode}: {res.stderr.strip()[:200]}")
    finally:
        os.unlink(f.name)
    # Nor from the file.
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write('[http]\nadmin-token="0123456789abcdef0123"\n')
    try:
        res = run([f"--config-file={f.name}"])
        check.expect(res.returncode == 2 and "http.admin-token" in res.stderr
                     and "0123456789abcdef0123" not in res.stderr,
                     f"a token in the file: exit {res.returncode}: {res.stderr.strip()[:200]}")
    finally:
        os.unlink(f.name)
    res = run([], env={"TROUPE_HTTP_ADMIN_TOKEN": "short"})
    check.expect(res.returncode == 2 and "at least 16" in res.stderr,
                 f"a short token: exit {res.returncode}: {res.stderr.strip()[:200]}")
    for args in ACCEPTED:
        check.expect(starts(args), f"edge values refused: {args}")
    log(f"{len(REFUSED)} refused values, {len(ACCEPTED)} accepted sets checked")
    check.finish()


if __name__ == "__main__":
    main()
