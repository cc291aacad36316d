import { describe, expect, it } from "vitest";
import { CHARTS } from "./instanceCharts";
import { CHART_SOURCES, formFromQuery, sourceInView, functionFor, hashQuery, highest, prefillFromChart, roundThreshold, ruleQuery } from "./chartAlert";
import { EMPTY_RULE, specOf } from "./ruleForm";

const instance = { id: "0190a4b2-7c1e-7d3a-9f00-123456789abc", name: "local-pg" };
const connections = [
  { label: "active", points: [[1000, 2], [2000, 3]] as [number, number][] },
  { label: "idle", points: [[1000, 5], [2000, 1]] as [number, number][] },
];

describe("functionFor", () => {
  it("takes the rate of counters and the value of anything else", () => {
    expect(functionFor("pg_database_xact_commit_total")).toBe("rate");
    expect(functionFor("pg_activity_connections")).toBe("value");
    expect(functionFor("pg_total_size")).toBe("value");
  });
});

describe("highest", () => {
  it("combines the lines at each time as the aggregate does, then takes the top", () => {
    expect(highest(connections, "sum")).toBe(7);
    expect(highest(connections, "max")).toBe(5);
    expect(highest(connections, "none")).toBe(5);
    expect(highest(connections, "min")).toBe(2);
    expect(highest([], "sum")).toBeNull();
  });
});

describe("roundThreshold", () => {
  it("rounds up to three significant digits, or down when asked", () => {
    expect([0, 7, 0.123456, 123456789, 12.345, 0.1, -12.345].map((v) => roundThreshold(v)))
      .toEqual([0, 7, 0.124, 124000000, 12.4, 0.1, -12.3]);
    expect([0.987654, 99.99, 7].map((v) => roundThreshold(v, false))).toEqual([0.987, 99.9, 7]);
  });
});

describe("prefillFromChart", () => {
  it("fills a rule on the chart's metric for this instance, above the highest value shown", () => {
    expect(prefillFromChart(CHART_SOURCES.connections!, connections, instance)).toEqual({
      ...EMPTY_RULE, name: "Connections on local-pg", scope: "instance", target_id: instance.id, kind: "metric",
      metric: "pg_activity_connections", fn: "value", aggregate: "sum", op: ">", threshold: "7",
    });
  });

  it("rates counters, and gives the threshold in the metric's unit, not the chart's", () => {
    const size = prefillFromChart(CHART_SOURCES.size!, [{ label: "app", points: [[1000, 3 * 1048576]] }], instance);
    expect([size.fn, size.threshold]).toEqual(["value", "3150000"]);
    const deadlocks = prefillFromChart(CHART_SOURCES.deadlocks!, [{ label: "app", points: [[1000, 6]] }], instance);
    expect([deadlocks.metric, deadlocks.fn, deadlocks.threshold]).toEqual(["pg_database_deadlocks_total", "rate", "0.1"]);
    const checkpoints = prefillFromChart(CHART_SOURCES.checkpoints!, [
      { label: "timed", points: [[1000, 30]] },
      { label: "requested", points: [[1000, 6]] },
    ], instance);
    expect([checkpoints.metric, checkpoints.fn, checkpoints.threshold]).toEqual(["pg_checkpoints_requested_total", "rate", "0.1"]);
  });

  it("starts from 0 on a chart without data, and makes a valid rule", () => {
    const f = prefillFromChart(CHART_SOURCES.tps!, [], instance);
    expect(f.threshold).toBe("0");
    expect(specOf(f).ok).toBe(true);
  });

  it("alerts on a low cache hit ratio below the lowest shown, as hits over hits plus reads", () => {
    const f = prefillFromChart(CHART_SOURCES.hit!, [
      { label: "app", points: [[1000, 99.5], [2000, 98.76]] },
      { label: "other", points: [[1000, 99.9]] },
    ], instance);
    expect(f).toMatchObject({
      metric: "pg_database_blks_hit_total", fn: "rate", op: "<", threshold: "0.987",
      divide: true, div_metric: "pg_database_blks_hit_total", div_add: "pg_database_blks_read_total", div_fn: "rate", div_aggregate: "none",
    });
    const spec = specOf(f);
    expect(spec.ok && spec.spec.condition).toMatchObject({
      divide_by: { metric: "pg_database_blks_hit_total", add: ["pg_database_blks_read_total"], function: "rate" },
    });
  });

  it("alerts on the instance total when the chart shows it, and on each database without the others line", () => {
    const total = prefillFromChart(sourceInView(CHART_SOURCES.tps!, true), [{ label: "all databases", points: [[1000, 250]] }], instance);
    expect([total.aggregate, total.threshold]).toEqual(["sum", "250"]);
    const top = prefillFromChart(sourceInView(CHART_SOURCES.tps!, false), [
      { label: "shop", group: "shop", points: [[1000, 40]] },
      { label: "others (18)", others: 18, points: [[1000, 200]] },
    ], instance);
    expect([top.aggregate, top.threshold]).toEqual(["none", "40"]);
    expect(sourceInView(CHART_SOURCES.lag!, true).aggregate).toBe("max");
    expect(sourceInView(CHART_SOURCES.checkpoints!, true).aggregate).toBe("none");
  });

  it("has a source for every chart but the WAL rate (a counter not named _total, which rules read as a value)", () => {
    expect(Object.keys(CHART_SOURCES).sort()).toEqual(CHARTS.map((c) => c.key).filter((k) => k !== "wal").sort());
  });
});

describe("the prefill in the URL", () => {
  it("carries the form through the query and back", () => {
    const f = { ...prefillFromChart(CHART_SOURCES.connections!, connections, instance), divide: true, labels: "a=b, c=d" };
    const q = ruleQuery(f);
    expect(q).toContain("new=1");
    expect(q).not.toContain("severity");
    expect(formFromQuery(q)).toEqual(f);
  });

  it("asks for no new rule without new=1", () => {
    expect(formFromQuery("")).toBeNull();
    expect(formFromQuery("rule=abc")).toBeNull();
    expect(formFromQuery("new=1")).toEqual(EMPTY_RULE);
  });

  it("reads the query of a hash route", () => {
    expect(hashQuery("#/rules?new=1&op=%3E")).toBe("new=1&op=%3E");
    expect(hashQuery("#/rules")).toBe("");
  });
});
