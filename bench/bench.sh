#!/usr/bin/env bash
# Troupe benchmark (`make bench`): PostgreSQL with durable settings (fsync on)
# and pg_stat_statements, troupe-broker and one node; pgbench on that same
# PostgreSQL for a reference figure, then troupe-load closed loop, a fixed-rate
# sweep up to saturation, an overload run, and the memory of open sagas.
# bench/bench.py does the work; bench/README.md tells the phases and knobs.
#
#   bench/bench.sh                 the full run (about 10-15 minutes)
#   BENCH_QUICK=1 bench/bench.sh   a quick run (fewer orders, short phases)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [ ! -x "$BUILD_DIR/apps/troupe-node/troupe-node" ] || [ ! -x "$BUILD_DIR/apps/troupe-load/troupe-load" ] \
  || [ ! -x "$BUILD_DIR/apps/troupe-broker/troupe-broker" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j2
fi
exec python3 bench/bench.py "$@"
