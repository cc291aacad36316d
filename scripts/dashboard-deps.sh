#!/usr/bin/env bash
# Installs the dashboard's npm packages when they are missing or older than package-lock.json
# (a checkout that moved on since the last install), so no script runs on stale node_modules.
set -euo pipefail
cd "$(dirname "$0")/../dashboard"
stamp=node_modules/.pga-package-lock.json
if [ ! -d node_modules ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi
