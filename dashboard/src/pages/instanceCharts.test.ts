import { describe, expect, it } from "vitest";
import type { GroupedAnswer } from "../components/chartData";
import type { LatestRow } from "../api/types";
import {
  CHARTS, labelReplicas, loadChart, MAX_PICK, modeOf, modesOf, pickedOf, pickerEntries, queryOf, replicaNames, seriesParams, tablesLink, TOP_N,
  withMode, withPicked, type ChartKey, type SeriesQuery,
} from "./instanceCharts";

const chart = (key: ChartKey) => CHARTS.find((c) => c.key === key)!;

/** A fake API: records each query and answers with `answer(q)`. */
function api(answer: (q: SeriesQuery) => GroupedAnswer) {
  const asked: SeriesQuery[] = [];
  return { asked, series: async (q: SeriesQuery) => (asked.push(q), answer(q)) };
}

/** A grouped answer as the API gives it for `top`: the first n groups, the rest folded. */
function grouped(q: SeriesQuery, values: Record<string, number>): GroupedAnswer {
  const names = Object.keys(values).sort((a, b) => values[b] - values[a]);
  const shown = q.pick ? q.pick.filter((n) => n in values) : names.slice(0, q.top);
  const rest = names.filter((n) => !shown.includes(n));
  return {
    series: [
      ...shown.map((n) => ({ labels: { [q.group!]: n }, points: [[1000, values[n]]] as [number, number][] })),
      ...(rest.length > 0 ? [{ labels: {}, points: [[1000, rest.reduce((s, n) => s + values[n], 0)]] as [number, number][], others: rest.length }] : []),
    ],
    groups: names.map((n) => ({ value: n, mean: values[n], last: values[n] })),
  };
}

/** 20 databases, db00 the busiest. */
const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`db${String(i).padStart(2, "0")}`, 100 - i]));

describe("the total view", () => {
  it("draws one line per chart: the sum of every database", async () => {
    const { asked, series } = api(() => ({ series: [{ labels: {}, points: [[1000, 42]] }] }));
    const d = await loadChart(chart("tps"), "total", [], series);
    expect(asked).toEqual([{ metric: "pg_database_xact_commit_total", fn: "rate", agg: "sum" }]);
    expect(d.lines).toEqual([{ label: "all databases", points: [[1000, 42]] }]);
  });

  it("draws connections by state, the worst replica's lag, and both checkpoint kinds per minute", async () => {
    const conns = api((q) => grouped(q, { active: 3, idle: 7 }));
    const c = await loadChart(chart("connections"), "total", [], conns.series);
    expect(conns.asked).toEqual([{ metric: "pg_activity_connections", fn: "raw", agg: "sum", group: "state" }]);
    expect(c.lines.map((l) => l.label)).toEqual(["idle", "active"]);

    expect(queryOf(chart("lag"), chart("lag").parts[0], "total", [])).toEqual({ metric: "pg_replication_lag_bytes", fn: "raw", agg: "max" });

    const cp = api((q) => ({ series: [{ labels: {}, points: [[1000, q.metric.includes("timed") ? 0.5 : 0.25]] }] }));
    const d = await loadChart(chart("checkpoints"), "total", [], cp.series);
    // One series per collector: two collectors of one server must not double the rate.
    expect(cp.asked.map((q) => q.agg)).toEqual(["max", "max"]);
    expect(queryOf(chart("wal"), chart("wal").parts[0], "total", [])).toMatchObject({ metric: "pg_wal_lsn_bytes", agg: "max" });
    expect(d.lines).toEqual([{ label: "timed", points: [[1000, 30]] }, { label: "requested", points: [[1000, 15]] }]);
  });
});

describe("the top view", () => {
  it("draws the 5 busiest databases and one others line for the 15 more, never more lines", async () => {
    const { asked, series } = api((q) => grouped(q, twenty));
    const d = await loadChart(chart("tps"), "top", [], series);
    expect(asked).toEqual([{ metric: "pg_database_xact_commit_total", fn: "rate", agg: "sum", group: "database", top: TOP_N }]);
    expect(d.lines.map((l) => l.label)).toEqual(["db00", "db01", "db02", "db03", "db04", "others (15 databases)"]);
    expect(d.lines.length).toBeLessThanOrEqual(TOP_N + 1);
    expect(d.groups).toHaveLength(20);
  });

  it("groups connections by database (their total is by state)", async () => {
    const { asked, series } = api((q) => grouped(q, twenty));
    await loadChart(chart("connections"), "top", [], series);
    expect(asked[0]).toMatchObject({ group: "database", top: TOP_N });
  });
});

describe("picked databases", () => {
  it("draws those, in the order picked, and the rest as others", async () => {
    const { asked, series } = api((q) => grouped(q, twenty));
    const d = await loadChart(chart("size"), "pick", ["db07", "db03"], series);
    expect(asked).toEqual([{ metric: "pg_database_size_bytes", fn: "raw", agg: "sum", group: "database", pick: ["db07", "db03"] }]);
    expect(d.lines.map((l) => l.label)).toEqual(["db07", "db03", "others (18 databases)"]);
  });

  it("start from the top databases while none is picked", () => {
    const def = chart("size");
    expect(queryOf(def, def.parts[0], "pick", [])).toMatchObject({ group: "database", top: TOP_N });
  });
});

describe("the cache hit ratio", () => {
  it("asks the reads of exactly the databases the hits show, and divides line by line", async () => {
    const hits = { ...twenty };
    const reads = Object.fromEntries(Object.keys(twenty).map((n) => [n, 100 - twenty[n]]));
    const { asked, series } = api((q) => grouped(q, q.metric.includes("hit") ? hits : reads));
    const d = await loadChart(chart("hit"), "top", [], series);
    expect(asked[0]).toMatchObject({ metric: "pg_database_blks_hit_total", group: "database", top: TOP_N });
    expect(asked[1]).toMatchObject({ metric: "pg_database_blks_read_total", group: "database", pick: ["db00", "db01", "db02", "db03", "db04"] });
    expect("top" in asked[1]).toBe(false);
    expect(d.lines.map((l) => [l.label, l.points[0][1]])).toEqual([
      ["db00", 100], ["db01", 99], ["db02", 98], ["db03", 97], ["db04", 96],
      // The 15 others: hits 95..81 (1320) over hits and reads (15 × 100).
      ["others (15 databases)", 88],
    ]);
  });

  it("is the instance's total hits over total hits and reads by default", async () => {
    const { asked, series } = api((q) => ({ series: [{ labels: {}, points: [[1000, q.metric.includes("hit") ? 990 : 10]] }] }));
    const d = await loadChart(chart("hit"), "total", [], series);
    expect(asked.map((q) => [q.metric, q.agg, q.group])).toEqual([
      ["pg_database_blks_hit_total", "sum", undefined], ["pg_database_blks_read_total", "sum", undefined],
    ]);
    expect(d.lines).toEqual([{ label: "all databases", points: [[1000, 99]] }]);
  });

  it("asks no reads when no database has hits", async () => {
    const { asked, series } = api(() => ({ series: [], groups: [] }));
    expect((await loadChart(chart("hit"), "top", [], series)).lines).toEqual([]);
    expect(asked).toHaveLength(1);
  });
});

describe("the view selector", () => {
  it("offers total, top and picked databases on database charts, top replicas on lag, nothing on totals only", () => {
    expect(modesOf(chart("tps")).map(([m]) => m)).toEqual(["total", "top", "pick"]);
    expect(modesOf(chart("lag")).map(([m]) => m)).toEqual(["total", "top"]);
    expect(modesOf(chart("wal"))).toEqual([]);
  });
});

describe("the URL", () => {
  it("carries the series query", () => {
    const p = seriesParams("local-pg", { metric: "m", fn: "rate", agg: "sum", group: "database", pick: ["a", "b"] }, 10, 20);
    expect(p.toString()).toBe("instance_id=local-pg&metric=m&fn=rate&from=10&to=20&agg=sum&group=database&pick=a%2Cb");
  });

  it("keeps the picked databases as db=a,b", () => {
    const q = withPicked(new URLSearchParams("tab=metrics&range=6h"), ["shop", "crm"]);
    expect(q.get("db")).toBe("shop,crm");
    expect(pickedOf(q)).toEqual(["shop", "crm"]);
    expect(withPicked(q, []).has("db")).toBe(false);
    expect(pickedOf(new URLSearchParams("db=,a,"))).toEqual(["a"]);
  });

  it("reads each picked database once and at most 20 of them (the API refuses more)", () => {
    expect(pickedOf(new URLSearchParams("db=a,b,a, b ,c"))).toEqual(["a", "b", "c"]);
    const many = Array.from({ length: 30 }, (_, i) => `db${i}`);
    expect(pickedOf(new URLSearchParams({ db: many.join(",") }))).toEqual(many.slice(0, MAX_PICK));
    expect(withPicked(new URLSearchParams(), [...many, "db0"]).get("db")).toBe(many.slice(0, MAX_PICK).join(","));
  });

  it("keeps each chart's lines (total, top or picked) as lines=<chart>:<mode>, so a reload and Back show them", () => {
    const tps = chart("tps");
    const lag = chart("lag");
    let q = new URLSearchParams("tab=metrics&range=6h");
    expect(modeOf(q, tps)).toBe("total");
    q = withMode(q, tps, "top");
    q = withMode(q, lag, "top");
    expect(q.get("lines")).toBe("tps:top,lag:top");
    expect(modeOf(q, tps)).toBe("top");
    expect(modeOf(q, lag)).toBe("top");
    expect(modeOf(q, chart("size"))).toBe("total");
    q = withMode(q, tps, "pick");
    expect(q.get("lines")).toBe("lag:top,tps:pick");
    expect(q.get("range")).toBe("6h");
    expect(withMode(withMode(q, tps, "total"), lag, "total").get("lines")).toBe("tps:total,lag:total");
  });

  it("shows picked databases on a chart by database until its lines are chosen, and ignores modes a chart lacks", () => {
    const q = new URLSearchParams("db=shop&lines=size:total,lag:pick,wal:top,nonsense,tps:bogus");
    expect(modeOf(q, chart("tps"))).toBe("pick");
    expect(modeOf(q, chart("size"))).toBe("total");
    expect(modeOf(q, chart("lag"))).toBe("total");
    expect(modeOf(q, chart("wal"))).toBe("total");
  });

  it("links a database to its tables with the page's range", () => {
    expect(tablesLink("i-1", "shop & co", new URLSearchParams("tab=metrics&range=6h&db=x&lines=tps:top")))
      .toBe("#/instances/i-1?tab=tables&db=shop+%26+co&range=6h");
    expect(tablesLink("i-1", "shop", new URLSearchParams("from=100&to=200")))
      .toBe("#/instances/i-1?tab=tables&db=shop&from=100&to=200");
    expect(tablesLink("i-1", "shop", new URLSearchParams())).toBe("#/instances/i-1?tab=tables&db=shop");
  });
});

describe("the database picker", () => {
  const groups = [{ value: "shop", mean: 9, last: 9 }, { value: "", mean: 5, last: 5 }, { value: "crm", mean: 1, last: null }];

  it("lists every database, the picked ones without data too, and an unnamed group as unpickable", () => {
    expect(pickerEntries(groups, ["crm", "gone"])).toEqual([
      { value: "shop", label: "shop", last: 9, checked: false, pickable: true },
      { value: "", label: "(no name)", last: 5, checked: false, pickable: false },
      { value: "crm", label: "crm", last: null, checked: true, pickable: true },
      { value: "gone", label: "gone", last: null, checked: true, pickable: true },
    ]);
  });

  it("lets no more be ticked once 20 are picked, but the picked ones be unticked", () => {
    const picked = Array.from({ length: MAX_PICK }, (_, i) => `db${i}`);
    const entries = pickerEntries([{ value: "new", mean: 1, last: 1 }, { value: "db3", mean: 1, last: 1 }], picked);
    expect(entries.find((e) => e.value === "new")).toMatchObject({ checked: false, pickable: false });
    expect(entries.find((e) => e.value === "db3")).toMatchObject({ checked: true, pickable: true });
  });
});

describe("replication lag by replica", () => {
  it("groups by client address: standbys without application_name all say walreceiver and would merge", () => {
    const lag = chart("lag");
    expect(queryOf(lag, lag.parts[0], "top", [])).toMatchObject({ group: "client_addr", top: TOP_N });
  });

  it("names each line by its application_name and address", async () => {
    const rows: LatestRow[] = [
      { labels: { application_name: "walreceiver", client_addr: "10.0.0.5", state: "streaming", sync_state: "async" }, ts: 1, values: {}, rates: {} },
      { labels: { application_name: "walreceiver", client_addr: "10.0.0.6", state: "streaming", sync_state: "async" }, ts: 1, values: {}, rates: {} },
      { labels: { application_name: "standby_b", client_addr: "10.0.0.6", state: "catchup", sync_state: "async" }, ts: 1, values: {}, rates: {} },
      { labels: { application_name: "", client_addr: "" }, ts: 1, values: {}, rates: {} },
    ];
    const names = replicaNames(rows);
    expect(names.get("10.0.0.6")).toEqual(["standby_b", "walreceiver"]);
    const { series } = api((q) => grouped(q, { "10.0.0.5": 30, "10.0.0.6": 20, "": 10, "10.0.0.9": 5 }));
    const asked: string[] = [];
    const d = await loadChart(chart("lag"), "top", [], series, async (m) => (asked.push(m), rows));
    expect(asked).toEqual(["pg_replication_lag_bytes"]);
    expect(d.lines.map((l) => l.label)).toEqual(["walreceiver (10.0.0.5)", "standby_b, walreceiver (10.0.0.6)", "(local socket)", "10.0.0.9"]);
    expect(d.lines.map((l) => l.group)).toEqual(["10.0.0.5", "10.0.0.6", "", "10.0.0.9"]);
  });

  it("still draws the lines by address when the names cannot be read", async () => {
    const { series } = api((q) => grouped(q, { "10.0.0.5": 30 }));
    const d = await loadChart(chart("lag"), "top", [], series, async () => { throw new Error("503"); });
    expect(d.lines.map((l) => l.label)).toEqual(["10.0.0.5"]);
    expect(labelReplicas([{ label: "others (2 replicas)", others: 2, points: [] }], new Map()).map((l) => l.label)).toEqual(["others (2 replicas)"]);
  });
});
