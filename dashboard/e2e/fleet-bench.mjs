// How fast the fleet overview becomes usable: opens the overview RUNS times in headless Chromium,
// each in a fresh page, and measures from navigation start to the table's rows being there
// (`[data-fleet-ready]`) and to a click on a sort header being applied (interactive). Prints one
// JSON line: the row count and, for each way below, p50/p99/max of both in ms and how many of
// its pages asked for a token refresh.
//
// Each page resumes a signed-in session as a reload does, from what the dashboard keeps in the
// tab's sessionStorage. Two ways, RUNS pages each, alternating: `reload` keeps what the dashboard
// keeps after a sign-in (an access token with time left, used as it is), `refresh` an access
// token less than a minute from its end (the page first gets a new pair: a tab reloaded after a
// quarter of an hour, or a session kept by an older dashboard).
//
//   PGA_E2E_BASE=http://127.0.0.1:4000 PGA_E2E_ADMIN=admin PGA_E2E_ADMIN_PASSWORD=… \
//     [PGA_E2E_BROWSER=/usr/bin/chromium] [RUNS=10] node dashboard/e2e/fleet-bench.mjs
import { appendFileSync, writeFileSync } from "node:fs";
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
        ...performance.getEntriesByType("resource").map((e) => [new URL(e.name).pathname, Math.round(e.startTime), Math.round(e.responseEnd)]),
        ...performance.getEntriesByType("mark").map((e) => [e.name, Math.round(e.startTime), Math.round(e.startTime)])];
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
// PROFILE=<file>: one more page first, not counted, with a CPU profile of its load written to
// <file> (Chrome's .cpuprofile format, for DevTools or a script), to find where the page's time goes.
if (process.env.PROFILE) {
  const tokens = await login();
  const context = await browser.newContext({ viewport: { width: 1366, height: 850 } });
  await context.addInitScript((session) => {
    if (!sessionStorage.getItem("pga.session")) sessionStorage.setItem("pga.session", session);
  }, JSON.stringify({ access: tokens.access_token, refresh: tokens.refresh_token, user: tokens.user, expires: Date.now() + tokens.expires_in * 1000 }));
  await context.addInitScript(probe);
  const page = await context.newPage();
  // PROFILE=trace:<file> writes a Chrome trace (the main thread's parsing, scripts, style,
  // layout and paint) instead of a CPU profile.
  const trace = process.env.PROFILE.startsWith("trace:") ? process.env.PROFILE.slice(6) : null;
  const cdp = await context.newCDPSession(page);
  if (trace) {
    await browser.startTracing(page, { path: trace, categories: ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "blink.user_timing", "loading"] });
  } else {
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
    await cdp.send("Profiler.start");
  }
  await page.goto(`${BASE}/#/`);
  await page.waitForFunction(() => !!window.__fleetBench && window.__fleetBench.sorted !== null, null, { timeout: 60000, polling: 50 });
  const bench = await page.evaluate(() => window.__fleetBench);
  if (trace) {
    await browser.stopTracing();
    console.error(`trace written to ${trace}: ready ${Math.round(bench.ready)} ms, sorted ${Math.round(bench.sorted)} ms`);
  } else {
    const { profile } = await cdp.send("Profiler.stop");
    writeFileSync(process.env.PROFILE, JSON.stringify({ ...profile, bench }));
  }
  await context.close();
}

const WAYS = ["reload", "refresh"];
const got = Object.fromEntries(WAYS.map((w) => [w, { ready: [], interactive: [], refreshed: 0 }]));
let rows = null;
try {
  for (let run = 0; run < RUNS * WAYS.length; run++) {
    // A session of its own per page, put where the dashboard keeps it (sessionStorage, per tab):
    // the page resumes it as after a reload.
    const tokens = await login();
    const way = WAYS[run % WAYS.length];
    const expires = way === "reload" ? Date.now() + tokens.expires_in * 1000 : Date.now() + 30000;
    const context = await browser.newContext({ viewport: { width: 1366, height: 850 } });
    await context.addInitScript((session) => {
      if (!sessionStorage.getItem("pga.session")) sessionStorage.setItem("pga.session", session);
    }, JSON.stringify({ access: tokens.access_token, refresh: tokens.refresh_token, user: tokens.user, expires }));
    await context.addInitScript(probe);
    const page = await context.newPage();
    await page.goto(`${BASE}/#/`);
    await page.waitForFunction(() => !!window.__fleetBench && window.__fleetBench.sorted !== null, null, { timeout: 60000, polling: 50 });
    const b = await page.evaluate(() => window.__fleetBench);
    // TIMELINE=<file>: each page's timeline, a JSON line each, for finding where the time goes.
    if (process.env.TIMELINE) appendFileSync(process.env.TIMELINE, `${JSON.stringify({ run, way, ready: Math.round(b.ready), timeline: b.timeline })}\n`);
    got[way].ready.push(b.ready);
    got[way].interactive.push(b.sorted);
    if (b.timeline.some(([what]) => what === "/api/v1/auth/refresh")) got[way].refreshed += 1;
    rows = b.rows;
    await context.close();
  }
} finally {
  await browser.close().catch(() => undefined);
}
const figures = (w) => ({ ready_ms: stats(got[w].ready), interactive_ms: stats(got[w].interactive), refreshed: got[w].refreshed });
console.log(JSON.stringify({ runs: RUNS, rows, reload: figures("reload"), refresh: figures("refresh") }));
