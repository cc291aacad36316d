import { describe, expect, it } from "vitest";
import { matchersFor, matchersText, silenceBody } from "./silenceForm";

describe("matchersFor", () => {
  it("silences the alert's rule on its instance", () => {
    expect(matchersFor({ rule_name: "High load", instance_name: "db1", collector_id: null })).toEqual([
      { name: "alertname", op: "=", value: "High load" },
      { name: "instance", op: "=", value: "db1" },
    ]);
  });

  it("uses the collector when the alert has no instance", () => {
    expect(matchersFor({ rule_name: "Collector down", instance_name: null, collector_id: "c1" })).toEqual([
      { name: "alertname", op: "=", value: "Collector down" },
      { name: "collector_id", op: "=", value: "c1" },
    ]);
  });
});

describe("silenceBody", () => {
  const now = Date.parse("2025-06-01T12:00:00Z");

  it("ends the silence the chosen hours from now and drops blank matchers", () => {
    expect(silenceBody([
      { name: " alertname ", op: "=", value: "High load" },
      { name: "", op: "=", value: "" },
    ], 4, " deploy ", now)).toEqual({
      matchers: [{ name: "alertname", op: "=", value: "High load" }], ends_at: "2025-06-01T16:00:00.000Z", comment: "deploy",
    });
  });

  it("needs a matcher, each with a label name", () => {
    expect(silenceBody([{ name: "", op: "=", value: "" }], 1, "", now)).toBe("a silence needs at least one matcher");
    expect(silenceBody([{ name: "", op: "=", value: "db1" }], 1, "", now)).toBe('the matcher for "db1" has no label name');
  });
});

describe("matchersText", () => {
  it("writes matchers in one line", () => {
    expect(matchersText([{ name: "alertname", op: "=", value: "x" }, { name: "instance", op: "!=", value: "db2" }]))
      .toBe('alertname="x", instance!="db2"');
  });
});
