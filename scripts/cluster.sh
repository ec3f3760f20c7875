#!/usr/bin/env bash
# `make cluster N=3`: PostgreSQL, troupe-broker and N nodes on 8080, 8081, ...
set -euo pipefail
exec "$(dirname "$0")/run.sh" "${1:-3}"
