import { describe, expect, it } from "vitest";
import type { GroupedAnswer } from "../components/chartData";
import { CHARTS, loadChart, modesOf, pickedOf, queryOf, seriesParams, TOP_N, withPicked, type ChartKey, type SeriesQuery } from "./instanceCharts";

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
    expect(d.lines).toEqual([{ label: "timed", points: [[1000, 30]] }, { label: "requested", points: [[1000, 15]] }]);
  });
});

describe("the top view", () => {
  it("draws the 5 busiest databases and one others line for the 15 more, never more lines", async () => {
    const { asked, series } = api((q) => grouped(q, twenty));
    const d = await loadChart(chart("tps"), "top", [], series);
    expect(asked).toEqual([{ metric: "pg_database_xact_commit_total", fn: "rate", agg: "sum", group: "database", top: TOP_N }]);
    expect(d.lines.map((l) => l.label)).toEqual(["db00", "db01", "db02", "db03", "db04", "others (15)"]);
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
    expect(d.lines.map((l) => l.label)).toEqual(["db07", "db03", "others (18)"]);
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
      ["others (15)", 88],
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
});
