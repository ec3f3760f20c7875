#!/usr/bin/env bash
# Starts (up) or stops (down) the throwaway PostgreSQL shared by the
# integration and end-to-end suites. Writes DIR/pg_url (the admin URL of the
# cluster); suites create their own databases in it.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmd=${1:?up|down}
dir=${2:?directory}
case "$cmd" in
  up)
    mkdir -p "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    url=$(scripts/pg.sh start "$dir/pg" "$port" | tail -n 1)
    echo "${url%/*}/postgres" > "$dir/pg_url"
    echo "testenv: PostgreSQL at $(cat "$dir/pg_url")"
    ;;
  down)
    if [ -f "$dir/pg/pgroot" ]; then root=$(cat "$dir/pg/pgroot"); else root=""; fi
    scripts/pg.sh stop "$dir/pg" || true
    rm -rf "$dir/pg"
    if [ -n "$root" ]; then rm -rf "$root"; fi
    ;;
  *)
    echo "usage: $0 up|down DIR" >&2
    exit 2
    ;;
esac
