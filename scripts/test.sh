#!/usr/bin/env bash
# Runs every test of pgAnalytics: formatting, lints, unit tests and the integration tests against
# the real PostgreSQL and NATS (started or installed by scripts/services.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace
