#!/usr/bin/env bash
# A private PostgreSQL server for the tests of a PostgreSQL gradebook (tests/test_postgres.py).
#
# Installs Debian's `postgresql` when missing (as root), creates its own cluster in
# $KIT_POSTGRES_DIR (default /tmp/kit-postgres; owned by the `postgres` OS user when run as root),
# starts it on 127.0.0.1:$KIT_POSTGRES_PORT (default 55432) unless it already runs, waits until it
# accepts connections and prints its URL on stdout (everything else goes to stderr):
#
#     export KIT_TEST_POSTGRES=$(bash .ci/postgres.sh)
#
# Idempotent: run it again at any time. It never touches any other cluster (such as Debian's
# `main` cluster). Stop it with: runuser -u postgres -- pg_ctl -D /tmp/kit-postgres/data stop
set -euo pipefail

DIR=${KIT_POSTGRES_DIR:-/tmp/kit-postgres}
PORT=${KIT_POSTGRES_PORT:-55432}
DATA=$DIR/data
SOCKETS=$DIR/sockets
LOG=$DIR/server.log
MARKER=$DIR/.kit-postgres  # this folder is ours: only then do we ever rebuild it

say() { echo "postgres.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

# The newest installed server's programs (a client-only install has psql there, but no initdb).
newest_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1) || true
  [ -n "$found" ] && dirname "$found"
}

if [ -z "$(newest_bin)" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's postgresql (apt-get) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  else
    die "PostgreSQL is not installed; run: sudo apt-get install postgresql"
  fi
fi
BIN=$(newest_bin)
[ -n "$BIN" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"

# As root, the cluster belongs to the `postgres` OS user (the server refuses to run as root);
# otherwise to whoever runs this. Its superuser role is called `postgres` either way.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "there is no 'postgres' OS user (Debian's postgresql package creates it)"
  OWNER=postgres
  if command -v runuser >/dev/null 2>&1; then
    as_owner() { runuser -u postgres -- "$@"; }
  else
    as_owner() { su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; }
  fi
else
  OWNER=$(id -un)
  as_owner() { "$@"; }
fi

# A cluster made by another major version cannot be started by this one: rebuild ours.
if [ -f "$DATA/PG_VERSION" ]; then
  version=$(cat "$DATA/PG_VERSION")
  if [ -x "/usr/lib/postgresql/$version/bin/postgres" ]; then
    BIN=/usr/lib/postgresql/$version/bin
  elif [ -f "$MARKER" ]; then
    say "rebuilding $DATA: it was made by PostgreSQL $version, which is no longer installed"
    as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$DATA"
  else
    die "$DATA was made by PostgreSQL $version (not installed) and is not ours: choose another KIT_POSTGRES_DIR"
  fi
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
  if [ -e "$DIR" ] && [ ! -f "$MARKER" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
    die "$DIR exists, is not empty and was not made by this script: choose another KIT_POSTGRES_DIR"
  fi
  say "creating a cluster in $DATA (owner $OWNER, trust authentication) ..."
  mkdir -p "$DIR"
  touch "$MARKER"
  rm -rf "$DATA"
  mkdir -p "$SOCKETS"
  if [ "$(id -u)" = 0 ]; then chown -R "$OWNER" "$DIR"; fi
  chmod 700 "$DIR"
  as_owner "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
fi
mkdir -p "$SOCKETS"
if [ "$(id -u)" = 0 ]; then chown "$OWNER" "$SOCKETS"; fi

# Listen on the loopback address and our own socket folder only; a throwaway test server needs no
# crash safety, so skip the fsyncs.
OPTIONS="-c listen_addresses=127.0.0.1 -p $PORT -k $SOCKETS -c fsync=off -c synchronous_commit=off \
-c full_page_writes=off -c max_connections=100"

# Our server runs when the process named in postmaster.pid is a live postgres (after a crash or a
# reboot that number may be gone, a zombie or another program's).
server_pid() {
  local pid comm state
  pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  read -r _ comm state _ <"/proc/$pid/stat" || return 1
  [ "$comm" = "(postgres)" ] && [ "$state" != Z ] && echo "$pid"
}

if server_pid >/dev/null; then
  # The fourth line of postmaster.pid is the port the running server listens on.
  if [ "$(sed -n 4p "$DATA/postmaster.pid")" = "$PORT" ]; then
    RUNNING=1
  else
    say "restarting: the running server does not listen on port $PORT"
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
    RUNNING=0
  fi
else
  RUNNING=0
  # A killed server leaves its lock files; the server refuses to start while the process id in
  # them exists, and a killed process can linger as a zombie. They are ours and nothing uses them.
  if [ -f "$DATA/postmaster.pid" ] || [ -n "$(ls -A "$SOCKETS")" ]; then
    say "removing the stale lock files of a server that no longer runs"
    rm -f "$DATA/postmaster.pid" "$SOCKETS"/.s.PGSQL.*
  fi
fi
if [ "$RUNNING" = 1 ]; then
  say "already running ($DATA)"
else
  say "starting PostgreSQL $(basename "$(dirname "$BIN")") on 127.0.0.1:$PORT ..."
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -o "$OPTIONS" start >&2 \
    || { tail -n 30 "$LOG" >&2 2>/dev/null || true; die "the server did not start (log: $LOG)"; }
fi

PG_ISREADY=$BIN/pg_isready
for _ in $(seq 1 60); do
  if "$PG_ISREADY" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres; then
    echo "postgresql://postgres@127.0.0.1:$PORT/postgres"
    exit 0
  fi
  sleep 0.5
done
tail -n 30 "$LOG" >&2 2>/dev/null || true
die "the server at 127.0.0.1:$PORT does not accept connections (log: $LOG)"
