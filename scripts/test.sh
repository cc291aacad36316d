#!/usr/bin/env bash
# Runs every test of pgAnalytics: formatting, lints, unit tests and the integration tests against
# the real PostgreSQL and NATS (started or installed by scripts/services.sh), the dashboard's
# unit tests (vitest) and its end-to-end run.
set -euo pipefail
cd "$(dirname "$0")/.."

PGA_NEED_PROMETHEUS=1 bash scripts/services.sh

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
log=$(mktemp)
vitest_log=$(mktemp)
trap 'rm -f "$log" "$vitest_log"' EXIT
set +e
cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
echo "== dashboard unit tests (vitest)"
(bash scripts/dashboard-deps.sh && cd dashboard && npm test --silent) 2>&1 | tee "$vitest_log"
vitest=${PIPESTATUS[0]}
# vitest's summary ("Tests  1 failed | 44 passed (45)") as the closing line cargo prints; a run
# that failed before counting counts as one failure.
sed 's/\x1b\[[0-9;]*m//g' "$vitest_log" | awk -v rc="$vitest" '
  /^ *Tests  / { for (i = 2; i <= NF; i++) { if ($i ~ /^passed/) p = $(i-1); if ($i ~ /^failed/) f = $(i-1); if ($i ~ /^(skipped|todo)/) s += $(i-1) } }
  END { if (rc != 0 && f == 0) f = 1; printf "test result: %s. %d passed; %d failed; %d ignored (vitest)\n", rc == 0 ? "ok" : "FAILED", p, f, s }' >> "$log"
[ "$vitest" -eq 0 ] || status=1
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
