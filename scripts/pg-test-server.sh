#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite (never for real data).
#
#   scripts/pg-test-server.sh start        start (initdb on first use); print the URL
#   scripts/pg-test-server.sh stop         stop it (the data folder stays for next time)
#   scripts/pg-test-server.sh status       exit 0 when running
#   scripts/pg-test-server.sh url          print the URL
#   scripts/pg-test-server.sh destroy      stop it and delete the data folder
#   scripts/pg-test-server.sh run CMD...   start it unless running, run CMD with
#                                          TRINHKY_TEST_POSTGRES_URL set, then stop it
#                                          again if this call started it
#
# The server binaries come from Debian's `postgresql` package (installed with apt-get
# when missing; sudo when not root). The cluster lives in $TMPDIR/trinhky-pg-<uid>-<port>,
# listens on 127.0.0.1:$TRINHKY_PG_PORT (54329) only, trusts the loopback role
# `trinhky` (CREATEDB) and trades durability for speed (fsync=off ...).
# As root, initdb/postgres run as the `postgres` system user (they refuse root).
set -euo pipefail

PORT="${TRINHKY_PG_PORT:-54329}"
ROLE=trinhky
BASE="${TMPDIR:-/tmp}"
BASE="${BASE%/}"
# As root the server runs as `postgres`, which must reach the folder: fall back to /tmp
# when $TMPDIR is private (e.g. under /root).
if [ "$(id -u)" = 0 ] && [ -z "${TRINHKY_PG_DATA:-}" ] && getent passwd postgres >/dev/null \
  && ! runuser -u postgres -- test -w "$BASE" -a -x "$BASE" 2>/dev/null; then
  BASE=/tmp
fi
DATA="${TRINHKY_PG_DATA:-$BASE/trinhky-pg-$(id -u)-$PORT}"
LOG="$DATA.log"
URL="postgresql://$ROLE@127.0.0.1:$PORT/postgres"

say() { echo "pg-test-server: $*" >&2; }
die() { say "error: $*"; exit 1; }

find_bindir() {
  local dir
  # Debian layout first, newest major version first.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  done
  local ctl
  ctl="$(command -v pg_ctl 2>/dev/null || true)"
  if [ -n "$ctl" ]; then
    dir="$(dirname "$(readlink -f "$ctl")")"
    if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  fi
  return 1
}

install_postgresql() {
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "PostgreSQL is missing and sudo is unavailable: install the 'postgresql' package"
    sudo="sudo"
  fi
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is missing and this is not a Debian-like system: install PostgreSQL (initdb, pg_ctl, postgres)"
  say "installing Debian's postgresql package"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
}

BINDIR="$(find_bindir || true)"

need_bindir() {
  if [ -z "$BINDIR" ]; then
    install_postgresql
    BINDIR="$(find_bindir)" || die "no PostgreSQL server binaries after installing the package"
  fi
}

# Run a server command as the cluster's owner (postgres refuses to run as root).
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    getent passwd postgres >/dev/null || die "running as root needs the 'postgres' system user (Debian's postgresql package creates it)"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

is_running() {
  [ -n "$BINDIR" ] && [ -f "$DATA/PG_VERSION" ] && as_owner "$BINDIR/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

ready() {
  # pg_isready is in the client package; fall back to a TCP probe.
  if [ -x "$BINDIR/pg_isready" ]; then
    "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d postgres
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
  fi
}

init_cluster() {
  say "creating a throwaway cluster in $DATA"
  rm -rf "$DATA"
  mkdir -p "$DATA"
  chmod 700 "$DATA"
  if [ "$(id -u)" = 0 ]; then
    as_owner true
    chown postgres: "$DATA"
    # The owner must reach the folder: every parent needs o+x (true for /tmp).
    as_owner test -w "$DATA" || die "the postgres user cannot write $DATA (set TMPDIR to a folder it can reach)"
  fi
  as_owner "$BINDIR/initdb" -D "$DATA" -U "$ROLE" -A trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >/dev/null 2>"$DATA.initdb.err" \
    || as_owner "$BINDIR/initdb" -D "$DATA" -U "$ROLE" -A trust -E UTF8 --locale=C \
      --no-sync >/dev/null 2>"$DATA.initdb.err" \
    || { cat "$DATA.initdb.err" >&2; die "initdb failed"; }
  rm -f "$DATA.initdb.err"
  # Loopback TCP only, trust for everyone connecting locally (a test cluster).
  cat >"$DATA/pg_hba.conf" <<EOF
host    all    all    127.0.0.1/32    trust
host    all    all    ::1/128         trust
EOF
  cat >>"$DATA/postgresql.conf" <<EOF

# trinhky test cluster: speed over durability, loopback only
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = ''
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
shared_buffers = 128MB
log_min_messages = warning
log_checkpoints = off
log_min_error_statement = panic
log_connections = off
log_disconnections = off
EOF
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$DATA/pg_hba.conf" "$DATA/postgresql.conf"
  fi
}

start() {
  need_bindir
  if ! is_running; then
    launch
  fi
  local i
  for i in $(seq 1 100); do
    ready && break
    sleep 0.1
  done
  ready || { tail -n 30 "$LOG" >&2 || true; die "PostgreSQL is not accepting connections on 127.0.0.1:$PORT"; }
  echo "$URL"
}

launch() {
  if ! [ -f "$DATA/PG_VERSION" ] || ! [ -f "$DATA/postgresql.conf" ] \
    || [ "$(cat "$DATA/PG_VERSION")" != "$("$BINDIR/postgres" -V | sed -E 's/^[^0-9]*([0-9]+).*/\1/')" ]; then
    init_cluster
  fi
  touch "$LOG"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$LOG"; fi
  # -l sends the server's output to the log: nothing keeps the caller's pipes open.
  if ! as_owner "$BINDIR/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 60 -s; then
    tail -n 30 "$LOG" >&2 || true
    die "PostgreSQL did not start (port $PORT busy? see $LOG)"
  fi
}

stop() {
  if is_running; then
    as_owner "$BINDIR/pg_ctl" stop -D "$DATA" -m fast -w -s
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) is_running ;;
  url) echo "$URL" ;;
  destroy)
    stop
    rm -rf "$DATA" "$LOG"
    ;;
  run)
    shift
    [ $# -gt 0 ] || die "usage: $0 run CMD [ARGS...]"
    need_bindir
    started=0
    if ! is_running; then started=1; fi
    TRINHKY_TEST_POSTGRES_URL="$(start)"
    export TRINHKY_TEST_POSTGRES_URL
    if [ "$started" = 1 ]; then trap stop EXIT; fi
    status=0
    "$@" || status=$?
    exit "$status"
    ;;
  *)
    echo "usage: $0 start|stop|status|url|destroy|run CMD..." >&2
    exit 2
    ;;
esac
