// How fast the fleet overview becomes usable: opens the overview RUNS times in headless Chromium,
// each in a fresh page, and measures from navigation start to the table's rows being there
// (`[data-fleet-ready]`) and to a click on a sort header being applied (interactive). Prints one
// JSON line: the row count and p50/p99/max of both, in ms.
//
//   PGA_E2E_BASE=http://127.0.0.1:4000 PGA_E2E_ADMIN=admin PGA_E2E_ADMIN_PASSWORD=… \
//     [PGA_E2E_BROWSER=/usr/bin/chromium] [RUNS=10] node dashboard/e2e/fleet-bench.mjs
import { appendFileSync } from "node:fs";
import { chromium } from "playwright-core";

const BASE = process.env.PGA_E2E_BASE;
const ADMIN = process.env.PGA_E2E_ADMIN;
const ADMIN_PASSWORD = process.env.PGA_E2E_ADMIN_PASSWORD;
const BROWSER = process.env.PGA_E2E_BROWSER ?? "/usr/bin/chromium";
const RUNS = Number(process.env.RUNS ?? "10");
if (!BASE || !ADMIN || !ADMIN_PASSWORD || !(RUNS > 0)) {
  console.error("set PGA_E2E_BASE, PGA_E2E_ADMIN and PGA_E2E_ADMIN_PASSWORD (RUNS > 0)");
  process.exit(2);
}

async function login() {
  const res = await fetch(`${BASE}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: ADMIN, password: ADMIN_PASSWORD }),
  });
  if (!res.ok) throw new Error(`login: ${res.status} ${await res.text()}`);
  return res.json();
}

// Runs in the page before its scripts: notes when the rows are there, clicks the TPS header at
// once, and notes when the table says it is sorted by it (all on the page's own clock, whose
// zero is the navigation start).
function probe() {
  const bench = { ready: null, sorted: null, rows: null };
  window.__fleetBench = bench;
  const look = () => {
    const box = document.querySelector("[data-fleet-ready]");
    if (!box) return;
    const th = document.querySelector('th[data-sort="tps"]');
    if (bench.ready === null) {
      bench.ready = performance.now();
      // Where the time went: each resource's start and end, and the document's, on this clock.
      const nav = performance.getEntriesByType("navigation")[0];
      bench.timeline = [["document", 0, Math.round(nav?.responseEnd ?? 0)], ["domContentLoaded", 0, Math.round(nav?.domContentLoadedEventEnd ?? 0)],
        ...performance.getEntriesByType("resource").map((e) => [new URL(e.name).pathname, Math.round(e.startTime), Math.round(e.responseEnd)])];
      bench.rows = Number(box.getAttribute("data-fleet-ready"));
      if (!th) {
        bench.sorted = bench.ready; // nothing to sort: no instance
        return;
      }
      th.querySelector("button").click();
    }
    if (bench.sorted === null && th && th.getAttribute("aria-sort") !== "none") bench.sorted = performance.now();
  };
  new MutationObserver(look).observe(document, { subtree: true, childList: true, attributes: true });
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { p50: Math.round(at(0.5)), p99: Math.round(at(0.99)), max: Math.round(sorted[sorted.length - 1]) };
}

const browser = await chromium.launch({
  executablePath: BROWSER,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
});
const ready = [];
const interactive = [];
let rows = null;
try {
  for (let run = 0; run < RUNS; run++) {
    // A session of its own per run, put where the dashboard keeps it (sessionStorage, per tab):
    // the page resumes it as after a reload.
    const tokens = await login();
    const context = await browser.newContext({ viewport: { width: 1366, height: 850 } });
    await context.addInitScript((session) => {
      if (!sessionStorage.getItem("pga.session")) sessionStorage.setItem("pga.session", session);
    }, JSON.stringify({ refresh: tokens.refresh_token, user: tokens.user }));
    await context.addInitScript(probe);
    const page = await context.newPage();
    await page.goto(`${BASE}/#/`);
    await page.waitForFunction(() => !!window.__fleetBench && window.__fleetBench.sorted !== null, null, { timeout: 60000, polling: 50 });
    const b = await page.evaluate(() => window.__fleetBench);
    ready.push(b.ready);
    // TIMELINE=<file>: each run's timeline, a JSON line each, for finding where the time goes.
    if (process.env.TIMELINE) appendFileSync(process.env.TIMELINE, `${JSON.stringify({ run, ready: Math.round(b.ready), timeline: b.timeline })}\n`);
    interactive.push(b.sorted);
    rows = b.rows;
    await context.close();
  }
} finally {
  await browser.close().catch(() => undefined);
}
console.log(JSON.stringify({ runs: RUNS, rows, ready_ms: stats(ready), interactive_ms: stats(interactive) }));
