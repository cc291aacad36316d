import { describe, expect, it } from "vitest";
import type { Condition } from "../api/alerting";
import { conditionText, extraLabels, scopeText, selector } from "./ruleText";

const metric = (c: Partial<Extract<Condition, { kind: "metric" }>>): Condition => ({
  kind: "metric", metric: "pg_activity_connections", labels: {}, function: "value", window_secs: 300,
  aggregate: "none", divide_by: null, op: ">", threshold: 100, ...c,
});

describe("conditionText", () => {
  it("writes a metric condition as the server's summaries do: a value as its series, functions over the window", () => {
    expect(conditionText(metric({}))).toBe("pg_activity_connections > 100");
    expect(conditionText(metric({ aggregate: "sum", labels: { state: "active" }, op: ">=", threshold: 0 })))
      .toBe('sum(pg_activity_connections{state="active"}) >= 0');
    expect(conditionText(metric({ metric: "pg_database_xact_commit_total", function: "rate", window_secs: 90, threshold: 2.5 })))
      .toBe("rate(pg_database_xact_commit_total[90s]) > 2.5");
  });

  it("writes a ratio as one side over the other, on the same window, with added metrics", () => {
    expect(conditionText(metric({
      metric: "pg_database_blks_hit_total", function: "rate", window_secs: 900, op: "<", threshold: 0.9,
      divide_by: { metric: "pg_database_blks_hit_total", add: ["pg_database_blks_read_total"], labels: { database: "app" }, function: "rate", aggregate: "max" },
    }))).toBe('rate(pg_database_blks_hit_total[900s]) / max(rate(pg_database_blks_hit_total + pg_database_blks_read_total{database="app"}[900s])) < 0.9');
  });

  it("says the other conditions in words", () => {
    expect(conditionText({ kind: "silent", target: "collector", after_secs: 600 })).toBe("the collector sends nothing for 10 min");
    expect(conditionText({ kind: "silent", target: "instance", after_secs: 90 })).toBe("no samples from the instance for 90 s");
    expect(conditionText({ kind: "connection_status" })).toBe("the instance's connection test fails (error or invalid credentials)");
  });
});

describe("selector", () => {
  it("quotes label values", () => {
    expect(selector("m", { a: 'x"y' })).toBe('m{a="x\\"y"}');
    expect(selector("m", {})).toBe("m");
    expect(selector("a", { db: "x" }, ["b"])).toBe('a + b{db="x"}');
  });
});

describe("scopeText", () => {
  it("names instances and collectors when it can", () => {
    const names = (id: string) => (id === "i1" ? "db1" : id);
    expect(scopeText({ kind: "all" })).toBe("everything");
    expect(scopeText({ kind: "tag", tag: "prod" })).toBe("tag prod");
    expect(scopeText({ kind: "instance", id: "i1" }, names)).toBe("instance db1");
    expect(scopeText({ kind: "collector", id: "c9" }, names)).toBe("collector c9");
  });
});

describe("extraLabels", () => {
  it("leaves out what the other columns say, sorted by name", () => {
    expect(extraLabels({ alertname: "x", instance: "db1", state: "active", database: "app", severity: "info" }))
      .toEqual([["database", "app"], ["state", "active"]]);
  });
});
