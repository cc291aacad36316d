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
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
echo "== dashboard end-to-end (headless Chromium)"
bash scripts/e2e.sh 2>&1 | tee -a "$log"
e2e=${PIPESTATUS[0]}
set -e
# The browser run counts as one test.
if [ "$e2e" -eq 0 ]; then echo "test result: ok. 1 passed; 0 failed; 0 ignored (e2e)" >> "$log"
else echo "test result: FAILED. 0 passed; 1 failed; 0 ignored (e2e)" >> "$log"; status=1; fi
# One closing line over every test binary (cargo prints one per binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1); if ($i ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
