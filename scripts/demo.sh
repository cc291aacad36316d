#!/usr/bin/env bash
# The local demo: pgAnalytics at http://127.0.0.1:4000, monitoring the local PostgreSQL.
# Generates its secrets once into .pga-demo/env (kept, so a restart can still read stored
# credentials) and prints the admin login.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh

pg="${PGA_TEST_PG:-postgres://postgres@127.0.0.1:5432}"
state=.pga-demo
mkdir -p "$state"
chmod 700 "$state"
if [ ! -f "$state/env" ]; then
  umask 077
  cat > "$state/env" <<ENV
PGA_DATABASE_URL=$pg/pganalytics_demo
PGA_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
PGA_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
PGA_BOOTSTRAP_ADMIN_USERNAME=admin
PGA_BOOTSTRAP_ADMIN_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=\n')
PGA_LISTEN=127.0.0.1:4000
PGA_NATS_PREFIX=pga
ENV
  echo "[demo] generated secrets in $state/env"
fi
set -a; . "$state/env"; set +a

if ! psql "$pg/postgres" -qAtc "select 1 from pg_database where datname = 'pganalytics_demo'" | grep -q 1; then
  psql "$pg/postgres" -qc "create database pganalytics_demo"
fi

cargo build --release --bin pganalytics
cat <<MSG

  pgAnalytics demo
  ----------------
  URL:      http://127.0.0.1:4000   (health: http://127.0.0.1:4000/api/v1/health)
  login:    $PGA_BOOTSTRAP_ADMIN_USERNAME / $PGA_BOOTSTRAP_ADMIN_PASSWORD
  secrets:  $state/env (generated for this demo only; keep it to keep stored credentials readable)

MSG
exec ./target/release/pganalytics serve
