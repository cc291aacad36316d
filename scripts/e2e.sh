#!/usr/bin/env bash
# The dashboard's end-to-end tests: builds the dashboard, starts a real pgAnalytics server (fresh
# database, own NATS prefix, random port) and runs dashboard/e2e/run.mjs in Debian's headless
# Chromium, with a real collector agent. Screenshots go to test-artifacts/. NATS is a private
# nats-server in operator mode, set up by `pganalytics nats-init` as in production.
set -euo pipefail
cd "$(dirname "$0")/.."

PGA_NEED_BROWSER=1 bash scripts/services.sh

bash scripts/dashboard-deps.sh
(cd dashboard && npm run build --silent)
cargo build --quiet --bin pganalytics --bin pganalytics-collector

pg="${PGA_TEST_PG:-postgres://postgres@127.0.0.1:5432}"
id=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
db="pga_e2e_$id"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d)
psql "$pg/postgres" -qc "create database $db"
admin_password="e2e-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
server=""
nats=""
# A second, private PostgreSQL with pg_stat_statements loaded (the shared one does not load it,
# and loading it takes a restart): the Statements views need statements a real collector read.
pgss=""
pgss_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pgbin="$(pg_config --bindir)"
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$pgss" ] && as_postgres "$pgbin/pg_ctl" -D "$pgss/data" -m immediate stop >/dev/null 2>&1 || true
  [ -n "$pgss" ] && rm -rf "$pgss"
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  [ -n "$nats" ] && kill "$nats" 2>/dev/null && wait "$nats" 2>/dev/null || true
  psql "$pg/postgres" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  # The databases run.mjs made for the instance views (it drops them too, unless it was killed).
  for d in $(psql "$pg/postgres" -Atqc "select datname from pg_database where left(datname, ${#db} + 3) = '${db}_db'" 2>/dev/null); do
    psql "$pg/postgres" -qc "drop database if exists \"$d\" with (force)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

pgss=$(mktemp -d)
[ "$(id -u)" -eq 0 ] && chown postgres "$pgss"
as_postgres "$pgbin/initdb" -D "$pgss/data" -U postgres -A trust >/dev/null
as_postgres "$pgbin/pg_ctl" -D "$pgss/data" -l "$pgss/log" -w start -o \
  "-p $pgss_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pgss -c shared_preload_libraries=pg_stat_statements" >/dev/null
psql "postgres://postgres@127.0.0.1:$pgss_port/postgres" -qc "create extension pg_stat_statements"

nats_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
./target/debug/pganalytics nats-init --dir "$work/nats" --listen "127.0.0.1:$nats_port" >/dev/null
"$(command -v nats-server || echo /usr/sbin/nats-server)" -c "$work/nats/nats-server.conf" -l "$work/nats.log" &
nats=$!
set -a; . "$work/nats/server/pganalytics.env"; set +a

PGA_DATABASE_URL="$pg/$db" \
PGA_NATS_PREFIX="e2e$id" \
PGA_LISTEN="127.0.0.1:$port" \
PGA_JWT_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')" \
PGA_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64 | tr -d '\n')" \
PGA_BOOTSTRAP_ADMIN_USERNAME=admin \
PGA_BOOTSTRAP_ADMIN_PASSWORD="$admin_password" \
PGA_DASHBOARD_DIR=dashboard/dist \
RUST_LOG=warn \
  ./target/debug/pganalytics serve > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$port/api/v1/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.5
done

rm -rf test-artifacts/e2e && mkdir -p test-artifacts/e2e
status=0
PGA_E2E_BASE="http://127.0.0.1:$port" \
PGA_E2E_ADMIN=admin \
PGA_E2E_ADMIN_PASSWORD="$admin_password" \
PGA_E2E_COLLECTOR_BIN="$PWD/target/debug/pganalytics-collector" \
PGA_E2E_ARTIFACTS="$PWD/test-artifacts/e2e" \
PGA_E2E_WORK="$work" \
PGA_E2E_RUN_ID="$id" \
PGA_E2E_STATEMENTS_PG_PORT="$pgss_port" \
  node dashboard/e2e/run.mjs || status=$?
if [ "$status" -ne 0 ]; then
  echo "[e2e] server log (last 40 lines):"; tail -40 "$work/server.log"
fi
exit "$status"
