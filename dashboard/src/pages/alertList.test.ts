import { describe, expect, it } from "vitest";
import type { Alert } from "../api/alerting";
import { byUrgency, firingBySeverity, newestFirst, sourceOf } from "./alertList";

const alert = (id: string, over: Partial<Alert>): Alert => ({
  id, rule_id: "r", rule_name: id, severity: "warning", state: "firing", labels: {}, instance_id: null, instance_name: null,
  collector_id: null, value: null, summary: "", since: "2025-06-01T12:00:00Z", fired_at: null, resolved_at: null,
  acknowledged_by: null, acknowledged_at: null, ack_comment: null, silenced_by: null, ...over,
});

const list = [
  alert("pending-critical", { state: "pending", severity: "critical" }),
  alert("old-warning", { since: "2025-06-01T10:00:00Z" }),
  alert("new-warning", { since: "2025-06-01T11:00:00+00:00" }),
  alert("critical", { severity: "critical", since: "2025-06-01T09:00:00Z" }),
  alert("info", { severity: "info" }),
];

describe("byUrgency", () => {
  it("puts firing before pending, then the most severe, then the newest", () => {
    expect(byUrgency(list).map((a) => a.id)).toEqual(["critical", "new-warning", "old-warning", "info", "pending-critical"]);
  });
});

describe("newestFirst", () => {
  it("orders by when the state began, whatever the offset notation", () => {
    expect(newestFirst(list).map((a) => a.id)).toEqual(["pending-critical", "info", "new-warning", "old-warning", "critical"]);
  });
});

describe("firingBySeverity", () => {
  it("counts firing alerts only, every severity, most severe first", () => {
    expect(firingBySeverity(list)).toEqual([["critical", 1], ["warning", 2], ["info", 1]]);
    expect(firingBySeverity([])).toEqual([["critical", 0], ["warning", 0], ["info", 0]]);
  });
});

describe("sourceOf", () => {
  it("names the instance, else the collector", () => {
    expect(sourceOf({ instance_name: "db1", instance_id: "i", collector_id: "c" })).toBe("db1");
    expect(sourceOf({ instance_name: null, instance_id: null, collector_id: "0190a4b2-7c1e" })).toBe("collector 0190a4b2");
    expect(sourceOf({ instance_name: null, instance_id: null, collector_id: null })).toBe("–");
  });
});
