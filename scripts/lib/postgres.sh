# shellcheck shell=bash
# A private, throwaway PostgreSQL server for the test suite (sourced; needs lib/common.sh).
#
#   pg_start   initdb + start a cluster in a temp dir, listening on 127.0.0.1:<free port> only,
#              superuser `neutrino` with a random password; exports NEUTRINO_TEST_PG_URL.
#   pg_stop    stop it and delete its directory (idempotent; call it from an EXIT trap).
#
# It uses Debian's binaries (/usr/lib/postgresql/<newest>/bin), installing `postgresql` when
# none are there, and never the system's own cluster or service manager. As root the server
# runs as the `postgres` user (PostgreSQL refuses to run as root). Durability is off (fsync,
# synchronous_commit): the data lives for one test run.

PG_DIR=""
PG_BIN=""
PG_AS=()

_pg_bindir() {
  find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1
}

_free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Clusters whose test run died without cleaning up (killed with SIGKILL): the run's pid is in
# <dir>/owner; stop and delete those whose owner is gone.
_pg_reap_orphans() {
  local dir owner
  for dir in "${TMPDIR:-/tmp}"/neutrino-pg.*; do
    [ -f "$dir/owner" ] || continue
    owner="$(cat "$dir/owner")"
    [ -n "$owner" ] && [ -d "/proc/$owner" ] && continue
    log "removing the PostgreSQL left by test run $owner ($dir)"
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
  done
}

pg_start() {
  PG_BIN="$(_pg_bindir)"
  if [ -z "$PG_BIN" ]; then
    ensure_debian_packages postgresql
    PG_BIN="$(_pg_bindir)"
  fi
  [ -n "$PG_BIN" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"

  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "user 'postgres' is missing (reinstall postgresql-common)"
    PG_AS=(runuser -u postgres --)
  fi
  _pg_reap_orphans
  PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/neutrino-pg.XXXXXX")"
  echo "$$" >"$PG_DIR/owner"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_DIR"; fi
  local port password
  port="$(_free_port)"
  password="$("$PY" -c 'import secrets; print(secrets.token_hex(16))')"
  printf '%s\n' "$password" >"$PG_DIR/pwfile"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_DIR/pwfile"; fi

  log "starting a private PostgreSQL ($("$PG_BIN/postgres" --version | awk '{print $3}')) on 127.0.0.1:$port"
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U neutrino --pwfile="$PG_DIR/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
    { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$PG_DIR -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    >/dev/null || { cat "$PG_DIR/server.log" >&2; die "PostgreSQL did not start"; }
  "${PG_AS[@]}" "$PG_BIN/createdb" -h "$PG_DIR" -p "$port" -U neutrino neutrino ||
    die "createdb failed"
  export NEUTRINO_TEST_PG_URL="postgresql://neutrino:$password@127.0.0.1:$port/neutrino"
}

pg_stop() {
  [ -n "$PG_DIR" ] || return 0
  if ! "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    warn "the private PostgreSQL had stopped before the end of the run; its log:"
    tail -n 40 "$PG_DIR/server.log" >&2 || true
  fi
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
}
