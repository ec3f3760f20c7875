#!/usr/bin/env bash
# Troupe benchmark: PostgreSQL with durable settings (fsync on), troupe-broker
# and one node; pgbench against that same PostgreSQL for a reference figure,
# then troupe-load end to end. Prints both figures and their ratio.
#
#   bench/bench.sh                 ORDERS=20000 CONCURRENCY=64 by default
#   RATE=1000 ORDERS=10000 bench/bench.sh    also a latency run at a fixed rate
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${ORDERS:-20000}
CONCURRENCY=${CONCURRENCY:-64}
RATE=${RATE:-}
PG_PORT=${BENCH_PG_PORT:-55440}
HTTP_PORT=${BENCH_HTTP_PORT:-18080}
BUILD_DIR=${BUILD_DIR:-build}
OUT=bench/out
PGBENCH=/usr/lib/postgresql/15/bin/pgbench
mkdir -p "$OUT"

if [ ! -x "$BUILD_DIR/apps/troupe-node/troupe-node" ] || [ ! -x "$BUILD_DIR/apps/troupe-load/troupe-load" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j2
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 1
  scripts/pg.sh stop "$OUT/pg" || true
}
trap cleanup EXIT INT TERM

echo "bench: starting PostgreSQL (durable), troupe-broker and one node"
rm -rf "$OUT/pg"
url=$(scripts/pg.sh start "$OUT/pg" "$PG_PORT" --durable | tail -n 1)
rm -f "$OUT/bootstrap.txt"
"$BUILD_DIR/apps/troupe-broker/troupe-broker" --bootstrap-file="$OUT/bootstrap.txt" \
  </dev/null >/dev/null 2>"$OUT/broker.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$OUT/bootstrap.txt" ] && break; sleep 0.1; done
"$BUILD_DIR/apps/troupe-node/troupe-node" --config-file=config/dev.ini --postgres.url="$url" \
  --kafka.bootstrap-file="$OUT/bootstrap.txt" --http.port="$HTTP_PORT" \
  --kafka.fetch-wait-max-ms=1 --log.level=warn >"$OUT/node.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$HTTP_PORT/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "http://127.0.0.1:$HTTP_PORT/ready" >/dev/null || { echo "bench: node not ready; see $OUT/node.log" >&2; exit 1; }

echo "bench: pgbench -i -s 10, then pgbench -c 2 -j 2 -T 20"
createdb -h 127.0.0.1 -p "$PG_PORT" -U troupe pgbench
"$PGBENCH" -h 127.0.0.1 -p "$PG_PORT" -U troupe -i -s 10 -q pgbench >"$OUT/pgbench-init.log" 2>&1
"$PGBENCH" -h 127.0.0.1 -p "$PG_PORT" -U troupe -c 2 -j 2 -T 20 pgbench >"$OUT/pgbench.log" 2>&1
tps=$(grep -Eo 'tps = [0-9.]+ \(without initial' "$OUT/pgbench.log" | grep -Eo '[0-9.]+' | head -n 1)

echo "bench: troupe-load --orders=$ORDERS --concurrency=$CONCURRENCY"
"$BUILD_DIR/apps/troupe-load/troupe-load" --url="http://127.0.0.1:$HTTP_PORT" --orders="$ORDERS" \
  --concurrency="$CONCURRENCY" --json --svg="$OUT/latency.svg" >"$OUT/load.json"
if [ -n "$RATE" ]; then
  echo "bench: troupe-load --rate=$RATE"
  "$BUILD_DIR/apps/troupe-load/troupe-load" --url="http://127.0.0.1:$HTTP_PORT" --orders="$ORDERS" \
    --concurrency="$CONCURRENCY" --rate="$RATE" --json --svg="$OUT/latency-rate.svg" >"$OUT/load-rate.json"
fi

python3 - "$tps" "$OUT" "$RATE" <<'PY'
import json, sys
tps, out, rate = float(sys.argv[1]), sys.argv[2], sys.argv[3]
load = json.load(open(f"{out}/load.json"))
e2e = load["e2e_rate"]
print()
print(f"pgbench TPS (durable, -c 2 -j 2)      {tps:10.1f}")
print(f"troupe orders/s end to end            {e2e:10.1f}   ({load['orders']} orders, concurrency {load['concurrency']})")
print(f"ratio orders/s : TPS                  {e2e / tps:10.2f}")
fl = load["final_latency_ms"]
print(f"POST -> final  p50 {fl['p50']} ms  p99 {fl['p99']} ms   (stuck {load['stuck']}, mismatches {load['mismatches']})")
if rate:
    lr = json.load(open(f"{out}/load-rate.json"))
    f2 = lr["final_latency_ms"]
    print(f"at {rate} orders/s: POST -> final p50 {f2['p50']} ms  p99 {f2['p99']} ms  ({lr['e2e_rate']} orders/s)")
print(f"latency histogram: {out}/latency.svg")
PY
