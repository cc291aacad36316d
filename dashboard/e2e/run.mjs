// End-to-end: the validation report's browser flow in headless Chromium (Debian's), against a
// real pgAnalytics server with real PostgreSQL, NATS and a real collector agent.
// Started by scripts/e2e.sh, which provides the server and these variables.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const BASE = process.env.PGA_E2E_BASE;
const ADMIN = process.env.PGA_E2E_ADMIN;
const ADMIN_PASSWORD = process.env.PGA_E2E_ADMIN_PASSWORD;
const COLLECTOR_BIN = process.env.PGA_E2E_COLLECTOR_BIN;
const ARTIFACTS = process.env.PGA_E2E_ARTIFACTS ?? "test-artifacts";
const WORK = process.env.PGA_E2E_WORK;
const PG_HOST = process.env.PGA_E2E_PG_HOST ?? "127.0.0.1";
const PG_PORT = Number(process.env.PGA_E2E_PG_PORT ?? "5432");
const BROWSER = process.env.PGA_E2E_BROWSER ?? "/usr/bin/chromium";
const INSTANCE = "local-pg";
const VIEWER = "viewer-e2e";
const VIEWER_PASSWORD = "viewer e2e password";
const EDITOR = "editor-e2e";
const EDITOR_PASSWORD = "editor e2e password";
const RULE = "e2e connections";

mkdirSync(ARTIFACTS, { recursive: true });
let step = 0;
const results = [];

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  results.push(what);
  console.log(`  ok  ${what}`);
}

async function call(method, path, token, body, headers = {}) {
  const res = await fetch(`${BASE}/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body ? { "Content-Type": "application/json" } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* empty */ }
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return json;
}

async function shot(page, name) {
  step += 1;
  const file = join(ARTIFACTS, `${String(step).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${file}`);
}

// ---- set-up through the API (what an admin would have done before) ----
const admin = (await call("POST", "/auth/login", null, { username: ADMIN, password: ADMIN_PASSWORD })).access_token;
await call("POST", "/users", admin, { username: VIEWER, password: VIEWER_PASSWORD, role: "viewer" });
await call("POST", "/users", admin, { username: EDITOR, password: EDITOR_PASSWORD, role: "editor" });
const managed = await call("POST", "/managed-instances", admin, {
  name: INSTANCE, host: PG_HOST, port: PG_PORT, database: "postgres", username: "postgres", sslmode: "disable", tags: ["e2e"],
});
// Collectors registered with this secret may report the instance (and only it).
const secret = (await call("POST", "/registration-secrets", admin, { name: "e2e collectors", instance_ids: [managed.id] })).secret;
// A second collector, registered by hand, that the viewer will see (the first one gets deleted).
await call("POST", "/collectors/register", null, { name: "standby collector", hostname: "db-standby", version: "e2e" },
  { "X-Registration-Secret": secret });

// The real agent, pushing the local PostgreSQL's statistics every second.
function startAgent(name, stateFile) {
  const config = join(WORK, `${stateFile}.toml`);
  writeFileSync(config, `
[server]
url = "${BASE}"
[collector]
name = "${name}"
state_file = "${join(WORK, stateFile)}"
[schedule.intervals]
database = 1
activity = 1
bgwriter = 2
host = 2
tables = 0
indexes = 0
[[target]]
name = "${INSTANCE}"
host = "${PG_HOST}"
port = ${PG_PORT}
sslmode = "disable"
databases = ["postgres"]
`);
  return spawn(COLLECTOR_BIN, ["--config", config, "run"], {
    env: { ...process.env, PGA_COLLECTOR_SERVER__REGISTRATION_SECRET: secret, PGA_COLLECTOR_LOG: "warn" },
    stdio: ["ignore", "inherit", "inherit"],
  });
}
const agent = startAgent("e2e collector", "collector-state.json");
// Started for the alerting flow, whose data must keep coming after the first agent's collector is deleted.
let alertAgent = null;

const browser = await chromium.launch({
  executablePath: BROWSER,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
});
let failed = null;
try {
  const context = await browser.newContext({ viewport: { width: 1366, height: 850 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on("dialog", (d) => d.accept());

  console.log("login");
  await page.goto(BASE);
  await page.getByLabel("Username").waitFor();
  check((await page.getByLabel("Username").inputValue()) === "" && (await page.getByLabel("Password").inputValue()) === "",
    "the login form is empty: no default credentials, no auto-login");
  await page.getByLabel("Username").fill(ADMIN);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  check((await page.getByRole("alert").innerText()).length > 5, "a wrong password is answered in words");
  await shot(page, "login-error");
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.getByRole("heading", { name: "Managed instances" }).waitFor();
  await shot(page, "overview");

  console.log("managed instances");
  await page.getByRole("link", { name: "Managed Instances" }).click();
  const row = page.getByRole("row").filter({ hasText: INSTANCE });
  await row.waitFor();
  check((await row.getByTestId("status").innerText()) !== "Connected", "before a test the badge does not claim Connected");
  await row.getByRole("button", { name: "Test Connection" }).click();
  await row.getByText("Connection successful").waitFor();
  await row.getByTestId("status").filter({ hasText: "Connected" }).waitFor();
  check((await row.getByText("Connection successful").count()) === 1 && (await row.getByTestId("status").innerText()) === "Connected",
    "Test Connection → \"Connection successful\" and the badge shows Connected, no reload");
  await page.waitForTimeout(500);
  check((await row.getByTestId("status").innerText()) === "Connected", "the badge stays Connected after the live update");
  await shot(page, "managed-instances");

  console.log("active collectors");
  await page.getByRole("link", { name: "Active Collectors" }).click();
  const agentRow = page.getByRole("row").filter({ hasText: "e2e collector" });
  await agentRow.waitFor();
  const heartbeat = agentRow.getByTestId("heartbeat");
  await page.waitForFunction((el) => el.dataset.lastSeen !== "", await heartbeat.elementHandle());
  const first = await heartbeat.getAttribute("data-last-seen");
  await page.waitForFunction(
    ([el, before]) => el.dataset.lastSeen !== before,
    [await heartbeat.elementHandle(), first],
    { timeout: 20000 },
  );
  const second = await heartbeat.getAttribute("data-last-seen");
  check(new Date(second) > new Date(first), `"Last heartbeat" moved on without a reload (${first} → ${second})`);
  check((await page.getByRole("row").filter({ hasText: "standby collector" }).count()) === 1, "every registered collector is listed");
  await shot(page, "active-collectors");

  console.log("instance page");
  await page.getByRole("link", { name: "Managed Instances" }).click();
  await page.getByRole("link", { name: INSTANCE }).click();
  await page.getByRole("heading", { name: INSTANCE }).waitFor();
  const tps = page.locator('section[aria-label="Transactions per second"]');
  await tps.waitFor();
  const deadline = Date.now() + 45000;
  // A line, not a dot: wait for a few buckets of the 15-minute range (3 s each).
  while (Number((await tps.getAttribute("data-longest")) ?? "0") < 4) {
    if (Date.now() > deadline) throw new Error("no data on the transactions chart");
    await page.waitForTimeout(2000);
    await page.reload();
    await page.getByLabel("Time range").selectOption({ label: "15 min" });
    await tps.waitFor();
  }
  await page.getByLabel("Time range").selectOption({ label: "15 min" });
  await page.waitForTimeout(1500);
  await tps.locator("canvas").waitFor();
  const sizePoints = Number(await page.locator('section[aria-label="Database size"]').getAttribute("data-points"));
  const tpsPoints = Number(await tps.getAttribute("data-longest"));
  check(sizePoints > 0 && tpsPoints >= 4,
    `charts show the data the collector pushed during the test (${tpsPoints} transaction-rate points on one line, ${sizePoints} size points)`);
  await page.waitForTimeout(300);
  await shot(page, "instance-charts");

  console.log("registration secrets");
  await page.getByRole("link", { name: "Registration Secrets" }).click();
  await page.getByRole("row").filter({ hasText: "e2e collectors" }).waitFor();
  check((await page.getByRole("row").filter({ hasText: "e2e collectors" }).count()) === 1, "Registration Secrets lists the secrets");
  await page.getByLabel("Name").fill("made in the browser");
  await page.getByRole("button", { name: "Create secret" }).click();
  const shown = await page.getByTestId("new-secret").innerText();
  check(shown.startsWith("pgas_"), "a new secret is shown once, with a copy button");
  await shot(page, "registration-secrets");

  console.log("users");
  await page.getByRole("link", { name: "Users" }).click();
  await page.getByRole("row").filter({ hasText: VIEWER }).waitFor();
  await shot(page, "users");

  console.log("delete a collector");
  await page.getByRole("link", { name: "Active Collectors" }).click();
  await agentRow.waitFor();
  const [deleted] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "DELETE" && r.url().includes("/api/v1/collectors/")),
    agentRow.getByRole("button", { name: "Delete" }).click(),
  ]);
  check(deleted.status() === 204, `the API answered ${deleted.status()} to the delete`);
  await agentRow.waitFor({ state: "detached" });
  check((await page.getByRole("row").filter({ hasText: "e2e collector" }).count()) === 0
    && (await page.getByRole("row").filter({ hasText: "standby collector" }).count()) === 1,
    "the deleted collector disappeared from the list, the other stays");
  await shot(page, "collector-deleted");

  console.log("a viewer");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Username").fill(VIEWER);
  await page.getByLabel("Password").fill(VIEWER_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Active Collectors" }).waitFor();
  check((await page.getByRole("link", { name: "Registration Secrets" }).count()) === 0, "a viewer is offered no Registration Secrets");
  check((await page.getByRole("link", { name: "Users" }).count()) === 0, "a viewer is offered no Users page");
  await page.getByRole("link", { name: "Active Collectors" }).click();
  await page.getByRole("row").filter({ hasText: "standby collector" }).waitFor();
  check((await page.getByRole("button", { name: "Delete" }).count()) === 0, "a viewer sees no Delete on collectors");
  await shot(page, "viewer-collectors");
  await page.getByRole("link", { name: "Managed Instances" }).click();
  await page.getByRole("row").filter({ hasText: INSTANCE }).waitFor();
  for (const name of ["Test Connection", "Remove", "Edit", "Add instance"]) {
    check((await page.getByRole("button", { name }).count()) === 0, `a viewer sees no "${name}"`);
  }
  await page.goto(`${BASE}/#/secrets`);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  check((await page.getByRole("heading", { name: "Registration Secrets" }).count()) === 0,
    "the secrets page, typed in by a viewer, falls back to the overview");
  const viewerToken = (await call("POST", "/auth/login", null, { username: VIEWER, password: VIEWER_PASSWORD })).access_token;
  const refused = await fetch(`${BASE}/api/v1/registration-secrets`, { headers: { Authorization: `Bearer ${viewerToken}` } });
  check(refused.status === 403, `and the server still refuses the viewer (${refused.status})`);

  console.log("small screen");
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const small = await phone.newPage();
  await small.goto(BASE);
  await small.getByLabel("Username").fill(ADMIN);
  await small.getByLabel("Password").fill(ADMIN_PASSWORD);
  await small.getByRole("button", { name: "Sign in" }).click();
  await small.getByRole("heading", { name: "Overview" }).waitFor();
  await small.goto(`${BASE}/#/instances`);
  await small.getByRole("row").filter({ hasText: INSTANCE }).waitFor();
  await shot(small, "phone-instances");

  console.log("alerting: an editor alerts on the connections chart");
  // The first agent's collector was deleted above: a second one keeps the connections coming.
  alertAgent = startAgent("e2e alert collector", "alert-collector-state.json");
  const navLink = (name) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
  const signIn = async (username, password) => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    // Signed in where the last user signed out (the location stays); start from the overview.
    await navLink("Overview").click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
  };
  await signIn(EDITOR, EDITOR_PASSWORD);
  check((await navLink("Alert Rules").count()) === 1 && (await navLink("Notifications").count()) === 0,
    "an editor is offered the alerting pages, not the notification channels (admin)");
  await page.goto(`${BASE}/#/instances/${managed.id}`);
  await page.getByRole("heading", { name: INSTANCE }).waitFor();
  const connChart = page.locator('section[aria-label="Connections by state"]');
  await connChart.getByRole("button", { name: "Alert on this" }).click();
  const ruleForm = page.getByRole("form", { name: "New alert rule" });
  await ruleForm.waitFor();
  // Anchored: "Function" is not "Divisor function"; a select's name may carry its options after the label.
  const field = (label) => ruleForm.getByLabel(new RegExp(`^${label.replace(/[()]/g, "\\$&")}`));
  check(page.url().includes("#/rules?") && (await field("Metric").inputValue()) === "pg_activity_connections"
    && (await field("Function").inputValue()) === "value" && (await field("Operator").inputValue()) === ">"
    && (await field("Instance").inputValue()) === managed.id && (await field("Threshold").inputValue()) !== "",
    "\"Alert on this\" opens the rule form prefilled: the chart's metric, value, >, this instance, a threshold");
  await field("Name").fill(RULE);
  // Critical: the overview lists the most severe firing alerts first (built-in ones may fire too).
  await field("Severity").selectOption("critical");
  await field("Aggregate").selectOption("sum");
  await field("Threshold").fill("0");
  await field("For (seconds)").fill("0");
  await shot(page, "rule-from-chart");
  const [createdRule] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/api/v1/alert-rules")),
    ruleForm.getByRole("button", { name: "Create rule" }).click(),
  ]);
  check(createdRule.status() === 201, `the API answered ${createdRule.status()} to the new rule`);
  const savedAt = Date.now();
  const ruleRow = page.getByRole("row").filter({ hasText: RULE });
  await ruleRow.waitFor();
  check((await ruleRow.innerText()).includes("sum(pg_activity_connections) > 0"),
    "the rules list shows the new rule's condition");
  await shot(page, "rules");

  console.log("alerting: the alert fires on the overview");
  await navLink("Overview").click();
  const alertsTile = page.locator('section[aria-label="Alerts"]');
  try {
    // No reload: the overview follows the server's live "alert" changes. The rule may fire more
    // than once on the instance (one alert per series: per collector that reported it).
    await alertsTile.getByRole("link", { name: RULE }).first().waitFor({ timeout: 90000 });
  } catch (e) {
    const editorToken = (await call("POST", "/auth/login", null, { username: EDITOR, password: EDITOR_PASSWORD })).access_token;
    const state = await call("GET", "/alerts?state=all", editorToken).catch((err) => String(err));
    throw new Error(`the alert did not show as firing on the overview within 90 s (${e.message.split("\n")[0]}); `
      + `GET /alerts?state=all answered ${JSON.stringify(state)}`);
  }
  check(true, `the alert shows as firing on the overview ${Math.round((Date.now() - savedAt) / 1000)} s after the rule was saved, without a reload`);
  await shot(page, "overview-firing");

  console.log("alerting: the editor acknowledges it");
  await navLink("Alerts").click();
  const firstRow = page.locator('section[aria-label="Active alerts"]').getByRole("row").filter({ hasText: RULE }).first();
  await firstRow.waitFor();
  const alertId = await firstRow.getAttribute("data-alert");
  const alertRow = page.locator(`tr[data-alert="${alertId}"]`);
  check((await alertRow.innerText()).includes("firing"), "the alerts page lists the alert as firing");
  await alertRow.getByRole("button", { name: "Acknowledge" }).click();
  const ackForm = page.getByRole("form", { name: new RegExp(`^Acknowledge ${RULE}`) });
  await ackForm.getByLabel("Comment (optional)").fill("looking into it");
  await ackForm.getByRole("button", { name: "Save acknowledgement" }).click();
  await alertRow.getByTestId("acknowledged").filter({ hasText: `acknowledged by ${EDITOR}` }).waitFor();
  check((await alertRow.getByRole("button", { name: "Acknowledge" }).count()) === 0,
    `the alert says "acknowledged by ${EDITOR}", and offers no second Acknowledge`);
  await shot(page, "alert-acknowledged");
  await alertRow.getByRole("link", { name: RULE }).click();
  const transitions = page.locator('section[aria-label="Transitions"]');
  await transitions.getByRole("row").filter({ hasText: "acknowledged" }).waitFor();
  check((await transitions.getByRole("row").filter({ hasText: "firing" }).count()) >= 1,
    "the alert's page shows its history: firing, then acknowledged");
  await shot(page, "alert-history");

  console.log("alerting: a viewer sees it, and cannot acknowledge");
  await signIn(VIEWER, VIEWER_PASSWORD);
  await alertsTile.getByRole("link", { name: RULE }).first().waitFor();
  await navLink("Alerts").click();
  const viewerRow = page.locator(`tr[data-alert="${alertId}"]`);
  await viewerRow.waitFor();
  check((await viewerRow.innerText()).includes("firing") && (await viewerRow.innerText()).includes(`acknowledged by ${EDITOR}`),
    "a viewer sees the firing alert and who acknowledged it");
  check((await page.getByRole("button", { name: "Acknowledge" }).count()) === 0
    && (await page.getByRole("button", { name: "Silence" }).count()) === 0,
    "a viewer sees no Acknowledge and no Silence button");
  await shot(page, "viewer-alerts");
  await navLink("Alert Rules").click();
  await page.getByRole("row").filter({ hasText: RULE }).waitFor();
  for (const name of ["New rule", "Edit", "Disable", "Delete"]) {
    check((await page.getByRole("button", { name, exact: true }).count()) === 0, `a viewer sees no "${name}" on the rules`);
  }

  console.log("alerting on a small screen");
  for (const [path, heading] of [["/alerts", "Alerts"], ["/rules", "Alert Rules"], ["/silences", "Silences"], ["/notifications", "Notifications"]]) {
    await small.goto(`${BASE}/#${path}`);
    await small.getByRole("heading", { name: heading, exact: true }).waitFor();
    await small.waitForTimeout(500);
    const width = await small.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 390, `${path} fits 390 px (page ${width} px wide; wide tables scroll in their box)`);
    await shot(small, `phone${path.replace("/", "-")}`);
  }
  await small.goto(`${BASE}/#/rules`);
  await small.getByRole("button", { name: "New rule" }).click();
  await small.getByRole("form", { name: "New alert rule" }).waitFor();
  const formWidth = await small.evaluate(() => document.documentElement.scrollWidth);
  check(formWidth <= 390, `the rule form fits 390 px (${formWidth} px)`);
  await shot(small, "phone-rule-form");
} catch (e) {
  failed = e;
} finally {
  await browser.close().catch(() => undefined);
  agent.kill("SIGTERM");
  alertAgent?.kill("SIGTERM");
}
if (failed) {
  console.error(`e2e FAILED: ${failed.stack ?? failed}`);
  process.exit(1);
}
console.log(`e2e: ${results.length} checks passed`);
