#!/usr/bin/env bash
# The local demo: pgAnalytics at http://127.0.0.1:4000, monitoring the local PostgreSQL.
# Generates its secrets once into .pga-demo/env (kept, so a restart can still read stored
# credentials) and prints the admin login. NATS is the demo's own nats-server in operator mode
# on 127.0.0.1:4223 (set up once by `pganalytics nats-init` into .pga-demo/nats/): only the
# server's credential may use JetStream; collectors get credentials for their own subject.
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

demo_db_exists() {
  psql "$pg/postgres" -qAtc "select 1 from pg_database where datname = 'pganalytics_demo'" | grep -q 1
}
if [ ! -f "$state/nats/auth.conf" ] && demo_db_exists; then
  # An earlier demo kept its streams on the unauthenticated NATS of port 4222: its projections'
  # checkpoints point into streams the new NATS does not have. Start the demo afresh.
  echo "[demo] the demo now runs its own NATS in operator mode; starting its database afresh"
  psql "$pg/postgres" -qc "drop database pganalytics_demo with (force)"
  rm -rf "$state/collector"
fi
if ! demo_db_exists; then
  # The streams belong to the event store: a new database starts with new streams (old ones
  # would replay another history into it) and a new collector.
  rm -rf "$state/nats/jetstream" "$state/collector"
  psql "$pg/postgres" -qc "create database pganalytics_demo"
fi

cargo build --release --bin pganalytics --bin pganalytics-collector
bash scripts/dashboard-deps.sh
(cd dashboard && npm run build --silent)
export PGA_DASHBOARD_DIR="$PWD/dashboard/dist"

if [ ! -f "$state/nats/auth.conf" ]; then
  ./target/release/pganalytics nats-init --dir "$state/nats" --listen 127.0.0.1:4223 >/dev/null
fi
"$(command -v nats-server || echo /usr/sbin/nats-server)" -c "$state/nats/nats-server.conf" -l "$state/nats.log" &
nats=$!
set -a; . "$state/nats/server/pganalytics.env"; set +a

./target/release/pganalytics serve &
server=$!
collector=""
cleanup() {
  [ -n "$collector" ] && kill "$collector" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
  kill "$nats" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

api=http://$PGA_LISTEN/api/v1
for _ in $(seq 1 60); do
  curl -fsS "$api/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "[demo] the server stopped" >&2; exit 1; }
  sleep 1
done

# First run: the local PostgreSQL as a managed instance, and a collector registered with a
# one-time registration secret (the collector keeps its identity in $state/collector/).
if [ ! -f "$state/collector/state.json" ]; then
  login=$(curl -fsS -H 'Content-Type: application/json' \
    -d "{\"username\":\"$PGA_BOOTSTRAP_ADMIN_USERNAME\",\"password\":\"$PGA_BOOTSTRAP_ADMIN_PASSWORD\"}" \
    "$api/auth/login")
  token=$(printf '%s' "$login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -fsS -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name":"local-postgres","host":"127.0.0.1","port":5432,"database":"postgres","username":"postgres","sslmode":"disable","tags":["demo"]}' \
    "$api/managed-instances" || echo "[demo] (the managed instance exists already)"
  # The collector may report only the instances it is bound to: its secret binds it to this one.
  instance=$(curl -fsS -H "Authorization: Bearer $token" "$api/managed-instances" \
    | python3 -c 'import json,sys; print(next(i["id"] for i in json.load(sys.stdin) if i["name"] == "local-postgres"))')
  secret=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"name\":\"demo collector\",\"max_registrations\":1,\"instance_ids\":[\"$instance\"]}" \
    "$api/registration-secrets" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
  export PGA_COLLECTOR_SERVER__REGISTRATION_SECRET="$secret"
fi
mkdir -p "$state/collector"
cat > "$state/collector/collector.toml" <<TOML
[server]
url = "http://$PGA_LISTEN"

[collector]
name = "demo collector"
state_file = "$PWD/$state/collector/state.json"

[schedule]
preset = "standard"

[schedule.intervals]
database = 15
activity = 15

[[target]]
name = "local-postgres"
host = "127.0.0.1"
port = 5432
user = "postgres"
sslmode = "disable"
TOML
# The collector gets none of the server's secrets.
env -u PGA_JWT_SECRET -u PGA_ENCRYPTION_KEY -u PGA_BOOTSTRAP_ADMIN_PASSWORD -u PGA_DATABASE_URL \
  -u PGA_NATS_CREDS -u PGA_NATS_COLLECTOR_SIGNING_KEY \
  ./target/release/pganalytics-collector --config "$state/collector/collector.toml" run &
collector=$!
unset PGA_COLLECTOR_SERVER__REGISTRATION_SECRET

cat <<MSG

  pgAnalytics demo
  ----------------
  URL:        http://$PGA_LISTEN   (health: http://$PGA_LISTEN/api/v1/health)
  login:      $PGA_BOOTSTRAP_ADMIN_USERNAME / $PGA_BOOTSTRAP_ADMIN_PASSWORD
  collector:  monitoring the local PostgreSQL as "local-postgres" ($state/collector/collector.toml)
  secrets:    $state/env (generated for this demo only; keep it to keep stored credentials readable)
  NATS:       $PGA_NATS_URL, operator mode ($state/nats/; log $state/nats.log)
  Ctrl-C stops both.

MSG
wait "$server"
