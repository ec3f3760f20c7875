#!/usr/bin/env bash
# Starts Troupe on the in-memory event bus: one troupe-node, no Kafka, no
# PostgreSQL (config/memory.ini). State is lost when it stops (Ctrl-C).
#
#   scripts/run-memory.sh [extra troupe-node flags]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
PORT=${TROUPE_HTTP_PORT:-8080}
cat <<MSG

  Troupe on the in-memory event bus (one node; state lost at exit)
    HTTP API and web UI  http://127.0.0.1:$PORT
  Try
    curl -s -XPOST localhost:$PORT/orders -H 'Content-Type: application/json' \\
      -d '{"customer_email":"demo@example.com","item_sku":"SKU-CHAIR-01","quantity":1,"amount_cents":14990}'
    curl -s localhost:$PORT/orders/<id>
  Ctrl-C stops it.

MSG
exec "$BUILD_DIR/apps/troupe-node/troupe-node" --config-file=config/memory.ini "$@"
