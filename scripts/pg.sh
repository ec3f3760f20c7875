#!/usr/bin/env bash
# Throwaway PostgreSQL 15 clusters for development, tests and benchmarks.
#
#   scripts/pg.sh start DIR PORT [--durable] [--stat-statements]
#                                               init (once) and start; prints the URL
#   scripts/pg.sh stop DIR                      stop (fast)
#   scripts/pg.sh createdb DIR PORT NAME        create a database; prints its URL
#   scripts/pg.sh psql DIR PORT [ARGS...]       psql into the troupe database
#
# Without --durable the cluster trades durability for speed (fsync off), which
# is what development and tests want; the benchmark uses --durable.
# --stat-statements preloads pg_stat_statements (the benchmark counts the
# statements per order with it); the extension is created in the troupe
# database. Neither option changes a cluster that is already running.
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin

as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

usage() {
  sed -n '2,14p' "$0" >&2
  exit 2
}

# The cluster lives in DIR, unless the postgres user cannot reach DIR (a
# private checkout, say): then in /tmp/troupe-pg-<hash>, recorded in DIR/pgroot.
pg_root() {
  local dir=$1
  if [ -f "$dir/pgroot" ]; then cat "$dir/pgroot"; return; fi
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
    local root="/tmp/troupe-pg-$(echo "$dir" | md5sum | cut -c1-12)"
    mkdir -p "$root" && chown postgres "$root" && chmod 700 "$root"
    echo "$root" > "$dir/pgroot"
    echo "$root"
    return
  fi
  echo "$dir"
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
case "$cmd" in
  start)
    dir=${1:?DIR}; port=${2:?PORT}; shift 2
    durable=; statements=
    for opt in "$@"; do
      case "$opt" in
        --durable) durable=--durable ;;
        --stat-statements) statements=1 ;;
        *) usage ;;
      esac
    done
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    dir=$(pg_root "$dir")
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_postgres "$BIN/initdb" -D "$dir/data" -U troupe --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_postgres mkdir -p "$dir/sock"
    opts="-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB"
    if [ "$durable" != "--durable" ]; then
      opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    if [ -n "$statements" ]; then
      opts="$opts -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.max=10000"
      opts="$opts -c pg_stat_statements.track=top -c pg_stat_statements.track_utility=on"
    fi
    if ! as_postgres "$BIN/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
      # A session of its own: Ctrl-C in the terminal must not stop it.
      as_postgres setsid -w "$BIN/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/pg.log" -o "$opts" >/dev/null \
        || { tail -n 20 "$dir/pg.log" >&2; exit 1; }
    fi
    if ! psql -h 127.0.0.1 -p "$port" -U troupe -d postgres -qAtc "SELECT 1 FROM pg_database WHERE datname = 'troupe'" | grep -q 1; then
      createdb -h 127.0.0.1 -p "$port" -U troupe troupe
    fi
    if [ -n "$statements" ]; then
      psql -h 127.0.0.1 -p "$port" -U troupe -d troupe -qAtc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
    fi
    echo "postgresql://troupe@127.0.0.1:$port/troupe"
    ;;
  stop)
    dir=${1:?DIR}
    [ -d "$dir" ] || exit 0
    dir=$(pg_root "$(cd "$dir" && pwd)")
    if [ -f "$dir/data/PG_VERSION" ]; then
      as_postgres "$BIN/pg_ctl" stop -D "$dir/data" -m fast >/dev/null 2>&1 || true
    fi
    ;;
  createdb)
    dir=${1:?DIR}; port=${2:?PORT}; name=${3:?NAME}
    createdb -h 127.0.0.1 -p "$port" -U troupe "$name"
    echo "postgresql://troupe@127.0.0.1:$port/$name"
    ;;
  psql)
    dir=${1:?DIR}; port=${2:?PORT}; shift 2
    exec psql -h 127.0.0.1 -p "$port" -U troupe troupe "$@"
    ;;
  *)
    usage
    ;;
esac
