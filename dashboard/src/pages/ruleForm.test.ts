import { describe, expect, it } from "vitest";
import type { RuleSpec } from "../api/alerting";
import { EMPTY_RULE, errorText, formOfRule, labelsText, parseLabels, specOf, type RuleForm } from "./ruleForm";

const INSTANCE = "0190a4b2-7c1e-7d3a-9f00-123456789abc";

const connections: RuleForm = {
  ...EMPTY_RULE, name: " Too many connections ", metric: "pg_activity_connections", labels: "state=active",
  aggregate: "sum", threshold: "100", for_secs: "0", scope: "instance", target_id: INSTANCE,
};

const spec = (f: RuleForm) => {
  const c = specOf(f);
  if (!c.ok) throw new Error(errorText(c.errors));
  return c.spec;
};
const errors = (f: RuleForm) => {
  const c = specOf(f);
  if (c.ok) throw new Error("expected mistakes");
  return c.errors;
};

describe("specOf", () => {
  it("turns a metric form into the RuleSpec the API takes: numbers as numbers, name trimmed", () => {
    expect(spec(connections)).toEqual({
      name: "Too many connections", severity: "warning", for_secs: 0, message: "",
      scope: { kind: "instance", id: INSTANCE },
      condition: {
        kind: "metric", metric: "pg_activity_connections", labels: { state: "active" }, function: "value",
        window_secs: 300, aggregate: "sum", divide_by: null, op: ">", threshold: 100,
      },
    });
  });

  it("keeps the metrics a built-in rule adds to a side, and sends add only when there are some", () => {
    const builtin: RuleSpec = {
      name: "Low cache hit ratio", severity: "warning", for_secs: 900, message: "", scope: { kind: "all" },
      condition: {
        kind: "metric", metric: "pg_database_blks_hit_total", labels: {}, function: "rate", aggregate: "none", window_secs: 900,
        divide_by: { metric: "pg_database_blks_hit_total", add: ["pg_database_blks_read_total"], labels: {}, function: "rate", aggregate: "none" },
        op: "<", threshold: 0.9,
      },
    };
    expect(formOfRule(builtin).div_add).toBe("pg_database_blks_read_total");
    expect(spec(formOfRule(builtin))).toEqual(builtin);
    expect(spec(connections).condition).not.toHaveProperty("add");
  });

  it("sends a divisor only when asked to divide", () => {
    const ratio = spec({
      ...connections, fn: "rate", metric: "pg_database_blks_read_total", divide: true,
      div_metric: "pg_database_blks_hit_total", div_labels: "database=app", div_fn: "rate", div_aggregate: "sum", threshold: "0.1",
    });
    expect(ratio.condition).toMatchObject({
      threshold: 0.1,
      divide_by: { metric: "pg_database_blks_hit_total", labels: { database: "app" }, function: "rate", aggregate: "sum" },
    });
    expect(spec({ ...connections, div_metric: "ignored" }).condition).toMatchObject({ divide_by: null });
  });

  it("builds the other conditions and scopes", () => {
    expect(spec({ ...EMPTY_RULE, name: "down", kind: "silent", target: "collector", after_secs: "600", scope: "tag", tag: " prod " }))
      .toMatchObject({ condition: { kind: "silent", target: "collector", after_secs: 600 }, scope: { kind: "tag", tag: "prod" } });
    expect(spec({ ...EMPTY_RULE, name: "conn", kind: "connection_status" }))
      .toMatchObject({ condition: { kind: "connection_status" }, scope: { kind: "all" }, for_secs: 300 });
  });

  it("names every mistake by its field, as the server's limits say", () => {
    expect(errors({ ...EMPTY_RULE, name: "", for_secs: "-1", window_secs: "30", threshold: "lots", metric: "" })).toEqual({
      name: "is required", for_secs: "must be a whole number of seconds", window_secs: "must be at least 60",
      threshold: "must be a number", metric: "is required",
    });
    expect(errors({ ...connections, name: "x".repeat(101), window_secs: "86401", metric: "pg activity", for_secs: "604801" })).toEqual({
      name: "must be at most 100 bytes", window_secs: "must be at most 86400", metric: "is not a metric name",
      for_secs: "must be at most 604800",
    });
    expect(errors({ ...connections, name: "é".repeat(51) })).toEqual({ name: "must be at most 100 bytes" });
    expect(errors({ ...connections, kind: "silent", after_secs: "10" })).toEqual({ after_secs: "must be at least 30" });
    expect(errors({ ...connections, add: "a, b c+d, e" })).toEqual({ add: "at most 4 metrics" });
    expect(errors({ ...connections, threshold: "" })).toEqual({ threshold: "must be a number" });
    expect(errors({ ...connections, labels: "state" })).toEqual({ labels: '"state" is not name=value' });
  });

  it("asks for the instance or tag a scope needs, and a known function", () => {
    expect(errors({ ...connections, target_id: "" })).toEqual({ target_id: "choose the instance" });
    expect(errors({ ...connections, scope: "tag", tag: " " })).toEqual({ tag: "is required" });
    expect(errors({ ...connections, fn: "avg" as never, op: "=>" as never })).toEqual({
      fn: "must be value, rate or increase", op: "is not a comparison",
    });
    expect(errors({ ...connections, divide: true })).toEqual({ div_metric: "is required" });
  });

  it("says the mistakes in words with the fields' names on screen", () => {
    expect(errorText({ threshold: "must be a number", window_secs: "must be at least 60" }))
      .toBe("Threshold: must be a number; Window: must be at least 60");
  });
});

describe("formOfRule", () => {
  it("gives back the form a spec came from (the round trip keeps every field)", () => {
    const ratio: RuleForm = {
      ...connections, name: "Cache misses", fn: "rate", metric: "pg_database_blks_read_total", labels: "database=app, schema=x",
      divide: true, div_metric: "pg_database_blks_hit_total", div_add: "pg_database_blks_read_total, x_total", div_labels: "",
      div_fn: "rate", div_aggregate: "max",
      op: "<=", threshold: "0.25", message: "{{rule}}: {{value}}", severity: "critical",
    };
    const back = formOfRule(spec(ratio));
    expect(back).toEqual({ ...ratio, name: "Cache misses" });
    expect(spec(back)).toEqual(spec(ratio));
  });

  it("fills silence and connection rules, leaving the metric fields empty", () => {
    const down: RuleSpec = {
      name: "Collector down", severity: "critical", for_secs: 0, message: "", scope: { kind: "collector", id: INSTANCE },
      condition: { kind: "silent", target: "collector", after_secs: 120 },
    };
    expect(formOfRule(down)).toEqual({
      ...EMPTY_RULE, name: "Collector down", severity: "critical", for_secs: "0", scope: "collector", target_id: INSTANCE,
      kind: "silent", target: "collector", after_secs: "120",
    });
  });
});

describe("labels", () => {
  it("reads name=value pairs separated by commas, quotes optional", () => {
    expect(parseLabels(' database = app , state="idle in transaction",')).toEqual({ database: "app", state: "idle in transaction" });
    expect(parseLabels("")).toEqual({});
    expect(parseLabels("url=a=b")).toEqual({ url: "a=b" });
  });

  it("refuses names that are no label names and a name given twice", () => {
    expect(parseLabels("1db=app")).toBe('"1db" is not a label name');
    expect(parseLabels("a=1, a=2")).toBe("a is given twice");
  });

  it("writes them back the way they are typed", () => {
    expect(labelsText({ database: "app", state: "active" })).toBe("database=app, state=active");
    expect(labelsText({})).toBe("");
  });
});
