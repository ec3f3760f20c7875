"""One command-line dialect across troupe-node, troupe-broker and troupe-load:
`-h`/`--help` prints usage and exits 0 (the node's lists every key of the
shipped configs with its environment variable); `--name=value` and
`--name value` are both accepted; every usage error (unknown flag, missing or
ill-typed value, value out of range, unknown config key) prints one line
`troupe-<app>: <problem naming the flag or key>` plus a hint to use --help on
stderr and exits 2. Needs no database: the node is stopped before it would
connect, the broker is local."""
import os
import re
import signal
import subprocess
import tempfile

from troupe_env import BROKER, BUILD, NODE, SOURCE, Check, log

LOAD = os.path.join(BUILD, "apps", "troupe-load", "troupe-load")
APPS = {"troupe-node": NODE, "troupe-broker": BROKER, "troupe-load": LOAD}
NODE_BASE = ["--kafka.brokers=127.0.0.1:1", "--postgres.url=postgresql://nobody@127.0.0.1:1/none"]


def run(app, args, timeout=20):
    extra = NODE_BASE if app == "troupe-node" else []
    return subprocess.run([APPS[app]] + extra + args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def usage_error(check, app, args, words):
    """`args` must be refused: exit 2, one line naming the problem, a hint."""
    res = run(app, args)
    lines = res.stderr.strip().splitlines()
    what = f"{app} {' '.join(args)}"
    check.expect(res.returncode == 2, f"{what}: exit {res.returncode}, want 2 ({res.stderr.strip()[:200]})")
    check.expect(len(lines) == 2, f"{what}: want a problem line and a hint, got {lines}")
    if not lines:
        return
    check.expect(lines[0].startswith(app + ": "), f"{what}: {lines[0]!r} does not start with '{app}: '")
    check.expect(all(w in lines[0] for w in words), f"{what}: {lines[0]!r} lacks {words}")
    check.expect("--help" in lines[-1], f"{what}: no hint to --help in {lines[-1]!r}")


def ini_keys(path):
    """section.key of every setting in an INI file, commented ones too."""
    keys, section = set(), None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if m := re.match(r"^\[([a-z-]+)\]$", line):
                section = m.group(1)
            elif section and (m := re.match(r"^;?\s*([a-z][a-z-]*)\s*=", line)):
                keys.add(f"{section}.{m.group(1)}")
    return keys


def env_of(key):
    return "TROUPE_" + re.sub(r"[.-]", "_", key).upper()


def check_help(check):
    for app in APPS:
        for flag in ("--help", "-h"):
            res = run(app, [flag])
            check.expect(res.returncode == 0, f"{app} {flag}: exit {res.returncode}")
            check.expect("usage" in res.stdout.lower(), f"{app} {flag}: no usage on stdout")
    text = run("troupe-node", ["--help"]).stdout
    # Every flag line is followed by its default, bounds and variable, and
    # the variable follows from the key by the one rule.
    flags = re.findall(r"^  --([a-z-]+\.[a-z-]+)=<([^>]+)>.*\n\s+default (.*)$", text, re.M)
    check.expect(len(flags) >= 60, f"node --help lists {len(flags)} options")
    for key, _type, rest in flags:
        check.expect(rest.endswith(f"env {env_of(key)}"), f"{key}: {rest!r} does not end with env {env_of(key)}")
    listed = {key for key, _, _ in flags}
    for ini in ("dev.ini", "node.ini"):
        for key in sorted(ini_keys(os.path.join(SOURCE, "config", ini))):
            check.expect(key in listed, f"{key} (config/{ini}) is not in troupe-node --help")
    check.expect("default 8080; between 0 and 65535; env TROUPE_HTTP_PORT" in text,
                 "http.port's default, bounds and variable are not in --help")
    for secret in ("TROUPE_HTTP_ADMIN_TOKEN", "TROUPE_POSTGRES_PASSWORD"):
        check.expect(secret in text, f"{secret} is not in --help")
    check.expect("--http.admin-token" not in text, "a secret is offered as a flag")
    return len(listed)


def check_errors(check):
    for app in APPS:
        usage_error(check, app, ["--no-such-flag"], ["--no-such-flag"])
        usage_error(check, app, ["--no-such-flag=1"], ["--no-such-flag"])
    usage_error(check, "troupe-node", ["--no-such-flag", "1"], ["--no-such-flag"])
    # Out of range, in both spellings.
    for args in (["--http.port=70000"], ["--http.port", "70000"]):
        usage_error(check, "troupe-node", args, ["http.port", "between 0 and 65535", "70000"])
    for args in (["--brokers=17"], ["--brokers", "17"]):
        usage_error(check, "troupe-broker", args, ["--brokers", "17"])
    for args in (["--concurrency=5000"], ["--concurrency", "5000"]):
        usage_error(check, "troupe-load", args, ["--concurrency", "5000"])
    # Ill-typed and missing values.
    usage_error(check, "troupe-node", ["--http.port=abc"], ["--http.port", "int32", "abc"])
    usage_error(check, "troupe-broker", ["--partitions=abc"], ["--partitions"])
    usage_error(check, "troupe-load", ["--orders=abc"], ["--orders"])
    usage_error(check, "troupe-node", ["--http.port"], ["--http.port", "missing"])
    usage_error(check, "troupe-broker", ["--brokers"], ["--brokers"])
    usage_error(check, "troupe-load", ["--url"], ["--url"])
    usage_error(check, "troupe-load", ["--mix=ok:x"], ["--mix"])
    # A bad key in the config file, and a value out of range from the environment.
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write("[http]\nno-such-key=1\n")
    try:
        usage_error(check, "troupe-node", [f"--config-file={f.name}"], ["http.no-such-key"])
        usage_error(check, "troupe-node", ["--config-file", f.name], ["http.no-such-key"])
    finally:
        os.unlink(f.name)


def check_accepted(check):
    # The node takes both spellings (CAF's --dump-config shows the result).
    for args in (["--http.port", "9191", "--saga.deadline", "7s"], ["--http.port=9191", "--saga.deadline=7s"]):
        res = run("troupe-node", args + ["--dump-config"])
        dump = res.stdout + res.stderr
        check.expect(res.returncode == 0, f"node {args}: exit {res.returncode}: {dump[:200]}")
        check.expect(re.search(r"^\s*port = 9191$", dump, re.M) and re.search(r"^\s*deadline = 7s$", dump, re.M),
                     f"node {args}: values not taken")
    # The broker starts with both spellings and prints its bootstrap string.
    for args in (["--brokers", "1", "--partitions", "2"], ["--brokers=1", "--partitions=2"]):
        proc = subprocess.Popen([BROKER] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            first = proc.stdout.readline().strip()
            check.expect(re.match(r"^127\.0\.0\.1:\d+$", first), f"broker {args}: first line {first!r}")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=20)
        check.expect(proc.returncode == 0, f"broker {args}: exit {proc.returncode} after SIGTERM")
    # troupe-load parses both spellings, then fails to reach the node: exit
    # 1 (not a usage error).
    for args in (["--url", "http://127.0.0.1:1", "--orders", "1"], ["--url=http://127.0.0.1:1", "--orders=1"]):
        res = run("troupe-load", args)
        check.expect(res.returncode == 1 and "cannot reach" in res.stderr,
                     f"load {args}: exit {res.returncode}: {res.stderr.strip()[:200]}")


def main():
    check = Check()
    listed = check_help(check)
    check_errors(check)
    check_accepted(check)
    log(f"{len(APPS)} programs checked, {listed} node options in --help")
    check.finish()


if __name__ == "__main__":
    main()
