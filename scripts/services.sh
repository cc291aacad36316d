#!/usr/bin/env bash
# Makes sure the two services pgAnalytics needs run locally:
#   PostgreSQL on 127.0.0.1:5432 (user postgres) and NATS with JetStream on 127.0.0.1:4222.
# Starts them when installed but stopped; installs them from Debian's packages when missing.
# Sourced or run by scripts/demo.sh and scripts/test.sh.
set -euo pipefail

log() { printf '[services] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

apt_install() {
  log "installing $* from Debian packages"
  if [ -z "${PGA_APT_UPDATED:-}" ]; then
    as_root apt-get update -qq
    export PGA_APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  log "nothing listens on 127.0.0.1:$1 after 30 s"; return 1
}

ensure_postgres() {
  if port_open 5432; then return 0; fi
  local fresh=0
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    apt_install postgresql postgresql-client
    fresh=1
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ "$fresh" -eq 1 ]; then
    # A server this script installed is a local development server: let the postgres user in
    # over loopback without a password, as the README's URLs assume.
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
  fi
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 5432
}

ensure_nats() {
  if port_open 4222; then return 0; fi
  if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
    apt_install nats-server
  fi
  local bin
  bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  as_root mkdir -p /var/lib/nats-server
  log "starting NATS with JetStream"
  as_root start-stop-daemon --start --oknodo --background --exec "$bin" -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_port 4222
}

# The dashboard is built with Node.js and npm; its browser tests drive Debian's Chromium.
ensure_tools() {
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  command -v curl >/dev/null 2>&1 || apt_install curl
  if [ "${PGA_NEED_BROWSER:-}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
    apt_install chromium
  fi
  # The remote-write test runs Prometheus scraping postgres_exporter, as a user would.
  if [ "${PGA_NEED_PROMETHEUS:-}" = 1 ]; then
    local missing=()
    [ -x /usr/bin/prometheus ] || missing+=(prometheus)
    [ -x /usr/bin/prometheus-postgres-exporter ] || missing+=(prometheus-postgres-exporter)
    # The alerting tests deliver to a real Alertmanager.
    [ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)
    if [ "${#missing[@]}" -gt 0 ]; then
      # Debian's packages start their services where systemd runs; the tests start their own.
      apt_install "${missing[@]}"
    fi
  fi
}

ensure_postgres
ensure_nats
ensure_tools
if ! psql "${PGA_TEST_PG:-postgres://postgres@127.0.0.1:5432}/postgres" -qAtc 'select 1' >/dev/null 2>&1; then
  log "PostgreSQL runs but postgres@127.0.0.1 cannot log in without a password."
  log "Set PGA_TEST_PG=postgres://USER:PASSWORD@127.0.0.1:5432 (a role that may create databases)."
  exit 1
fi
log "PostgreSQL and NATS (JetStream) are up"
