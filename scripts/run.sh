#!/usr/bin/env bash
# Starts a local Troupe: a throwaway PostgreSQL under var/pg, troupe-broker,
# and N troupe-node processes (HTTP on 8080, 8081, ...) with config/dev.ini.
# Ctrl-C stops everything it started.
#
#   scripts/run.sh [N] [-- extra troupe-node flags]
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=1
if [ $# -gt 0 ] && [ "$1" != "--" ]; then nodes=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
BUILD_DIR=${BUILD_DIR:-build}
PG_PORT=${TROUPE_PG_PORT:-55432}
HTTP_PORT=${TROUPE_HTTP_BASE_PORT:-8080}
mkdir -p var

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "troupe: stopping"
  # Nodes first (they drain, commit and leave their groups), then the broker.
  stop_pids() {
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "$@"; do
      for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    done
  }
  stop_pids "${pids[@]:1}"
  stop_pids "${pids[0]}"
  scripts/pg.sh stop var/pg || true
  echo "troupe: stopped"
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

url=$(scripts/pg.sh start var/pg "$PG_PORT" | tail -n 1)
rm -f var/bootstrap.txt
# The broker runs in its own session so that Ctrl-C reaches the nodes first;
# it is stopped after them.
setsid "$BUILD_DIR/apps/troupe-broker/troupe-broker" --bootstrap-file=var/bootstrap.txt \
  </dev/null >var/broker.out 2>var/broker.log &
pids+=($!)
for _ in $(seq 1 100); do [ -s var/bootstrap.txt ] && break; sleep 0.1; done
[ -s var/bootstrap.txt ] || { echo "troupe-broker did not start; see var/broker.log" >&2; exit 1; }
bootstrap=$(cat var/bootstrap.txt)

for i in $(seq 1 "$nodes"); do
  port=$((HTTP_PORT + i - 1))
  args=(--config-file=config/dev.ini --postgres.url="$url" --kafka.bootstrap-file=var/bootstrap.txt
        --http.port="$port" "$@")
  if [ "$nodes" -gt 1 ]; then
    args+=(--node.id="node-$i")
    "$BUILD_DIR/apps/troupe-node/troupe-node" "${args[@]}" 2>&1 \
      | tee "var/node-$i.log" | sed -u "s/^/[node-$i] /" &
  else
    "$BUILD_DIR/apps/troupe-node/troupe-node" "${args[@]}" 2>&1 | tee var/node.log &
  fi
  pids+=($(jobs -p | tail -n 1))
done
pids_nodes=$(pgrep -f "troupe-node --config-file=config/dev.ini --postgres.url=$url" || true)
pids+=($pids_nodes)

for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$HTTP_PORT/ready" >/dev/null 2>&1 && break; sleep 0.2; done
cat <<MSG

  Troupe is running
    HTTP API    http://127.0.0.1:$HTTP_PORT$( [ "$nodes" -gt 1 ] && echo " .. :$((HTTP_PORT + nodes - 1))")
    Kafka       $bootstrap
    PostgreSQL  $url
  Try
    curl -s -XPOST localhost:$HTTP_PORT/orders -H 'Content-Type: application/json' \\
      -d '{"customer_email":"demo@example.com","item_sku":"SKU-CHAIR-01","quantity":1,"amount_cents":14990}'
    kcat -b $bootstrap -C -t order.status.changed -o beginning
    psql $url -c 'SELECT status, reason, count(*) FROM orders GROUP BY 1, 2'
  Ctrl-C stops everything.

MSG
# Exit (and clean up) as soon as any process we started dies.
while true; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      # Ctrl-C reaches the nodes too, and they may stop before the trap
      # runs: give a pending signal the chance to end this cleanly.
      sleep 1 &
      wait $! || true
      echo "troupe: process $pid exited" >&2
      exit 1
    fi
  done
  # `wait` returns at once when a signal arrives, so Ctrl-C runs the trap
  # before the loop can notice nodes stopping.
  sleep 1 &
  wait $! || true
done
