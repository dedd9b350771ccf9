#!/usr/bin/env bash
# The real database servers the store's backend tests run against: PostgreSQL 15 and Redis 7 from Debian packages,
# listening on 127.0.0.1 only, data in a temporary directory. Idempotent: `start` installs what is missing (once,
# apt-get, as root) and starts what is not running; `stop` stops them and removes their data; `status` says which
# run. `start` and `status` print the STORE_URL of each, as variables the tests read:
#   MAB_TEST_POSTGRES_URL=postgres://mab:…@127.0.0.1:25432/mab
#   MAB_TEST_REDIS_URL=redis://127.0.0.1:26379
# Settings (environment): MAB_SERVICES_DIR (default $TMPDIR/mab-services), MAB_POSTGRES_PORT (25432),
# MAB_REDIS_PORT (26379). The default ports are below the kernel's ephemeral range, so no test's bind to port 0
# takes them. PostgreSQL refuses to run as root: as root, both servers run as their packages' system users.
set -euo pipefail

DIR="${MAB_SERVICES_DIR:-${TMPDIR:-/tmp}/mab-services}"
PG_PORT="${MAB_POSTGRES_PORT:-25432}"
REDIS_PORT="${MAB_REDIS_PORT:-26379}"
PG_BIN="${MAB_POSTGRES_BIN:-/usr/lib/postgresql/15/bin}"
PG_USER=mab
PG_PASSWORD=mab-services
PG_URL="postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/mab"
REDIS_URL="redis://127.0.0.1:${REDIS_PORT}"

usage() { echo "usage: scripts/services.sh start|stop|status" >&2; exit 2; }

# Runs a command as the system user `$1` when we are root, else as ourselves.
as_user() {
  local user="$1"; shift
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

install_missing() {
  local packages=()
  [ -x "$PG_BIN/postgres" ] || packages+=(postgresql-15)
  command -v redis-server >/dev/null || packages+=(redis-server)
  [ "${#packages[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "services: ${packages[*]} missing; install them (sudo apt-get install ${packages[*]}) or run this as root" >&2
    exit 1
  fi
  echo "services: installing ${packages[*]} (once)" >&2
  apt-get update -qq
  # The packages' own services are not started (there is no init system here, and we want loopback-only servers).
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

pg_running() { [ -f "$DIR/postgres/postmaster.pid" ] && as_user postgres "$PG_BIN/pg_ctl" -D "$DIR/postgres" status >/dev/null 2>&1; }
redis_running() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start_postgres() {
  if pg_running; then return 0; fi
  if [ ! -f "$DIR/postgres/PG_VERSION" ]; then
    rm -rf "$DIR/postgres"
    mkdir -p "$DIR/postgres"
    printf '%s\n' "$PG_PASSWORD" >"$DIR/pg-password"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR/postgres" "$DIR/pg-password"; fi
    chmod 700 "$DIR/postgres"
    as_user postgres "$PG_BIN/initdb" -D "$DIR/postgres" -U "$PG_USER" --pwfile="$DIR/pg-password" \
      -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$DIR/postgres-initdb.log" 2>&1 \
      || { cat "$DIR/postgres-initdb.log" >&2; exit 1; }
    rm -f "$DIR/pg-password"
  fi
  # Loopback only, no unix socket outside the data dir; fsync stays on (the crash tests rely on real durability).
  as_user postgres "$PG_BIN/pg_ctl" -D "$DIR/postgres" -l "$DIR/postgres/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$DIR/postgres -c max_connections=300" >/dev/null \
    || { tail -n 20 "$DIR/postgres/server.log" >&2; exit 1; }
  if ! PGPASSWORD="$PG_PASSWORD" psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='mab'" | grep -q 1; then
    PGPASSWORD="$PG_PASSWORD" psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE mab" >/dev/null
  fi
}

start_redis() {
  if redis_running; then return 0; fi
  mkdir -p "$DIR/redis"
  if [ "$(id -u)" -eq 0 ]; then chown redis: "$DIR/redis"; fi
  # appendfsync always: every write is on disk before Redis answers it (what the crash tests assume; see
  # runbook/store-migration.md). Many databases: each test takes one of its own.
  as_user redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DIR/redis" --daemonize yes \
    --pidfile "$DIR/redis/redis.pid" --logfile "$DIR/redis/redis.log" --appendonly yes --appendfsync always \
    --save "" --databases 1000 --protected-mode yes
  for _ in $(seq 1 100); do redis_running && return 0; sleep 0.1; done
  echo "services: redis did not start:" >&2; tail -n 20 "$DIR/redis/redis.log" >&2; exit 1
}

print_urls() {
  echo "MAB_TEST_POSTGRES_URL=$PG_URL"
  echo "MAB_TEST_REDIS_URL=$REDIS_URL"
}

case "${1:-}" in
  start)
    install_missing
    mkdir -p "$DIR"
    chmod 755 "$DIR"
    start_postgres
    start_redis
    print_urls
    ;;
  stop)
    if pg_running; then as_user postgres "$PG_BIN/pg_ctl" -D "$DIR/postgres" -m fast -w stop >/dev/null; fi
    if redis_running; then redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; fi
    rm -rf "$DIR"
    echo "services: stopped"
    ;;
  status)
    code=0
    if pg_running; then echo "postgres: running on 127.0.0.1:$PG_PORT"; else echo "postgres: not running"; code=1; fi
    if redis_running; then echo "redis: running on 127.0.0.1:$REDIS_PORT"; else echo "redis: not running"; code=1; fi
    [ "$code" -eq 0 ] && print_urls
    exit "$code"
    ;;
  *) usage ;;
esac
