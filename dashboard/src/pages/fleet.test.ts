import { describe, expect, it } from "vitest";
import type { FleetInstance } from "../api/history";
import { DEFAULT_VIEW, queryOfView, rowsOf, sparkPaths, sparkSegments, tagsOf, toggleSort, viewOf, windowOf } from "./fleet";

const instance = (name: string, more: Partial<FleetInstance> = {}): FleetInstance => ({
  id: name, name, tags: [], status: "connected", last_error: null, last_heartbeat: null, last_sample_at: null,
  tps: null, connections: null, max_connections: null, cache_hit_ratio: null, replication_lag_s: null,
  database_size_bytes: null, spark_tps: [], spark_connections: [], firing: 0, firing_severity: null, ...more,
});

const fleet = [
  instance("db-b", { tps: 5, tags: ["prod"], status: "error", firing: 1, firing_severity: "warning" }),
  instance("db-a", { tps: 50, tags: ["prod", "eu"], firing: 1, firing_severity: "critical" }),
  instance("db-c", { tags: ["dev"], firing: 3, firing_severity: "info" }),
];
const names = (rows: FleetInstance[]) => rows.map((i) => i.name);

describe("rowsOf", () => {
  it("sorts by name by default", () => {
    expect(names(rowsOf(fleet, DEFAULT_VIEW))).toEqual(["db-a", "db-b", "db-c"]);
  });

  it("sorts names as a person reads them: numbers by value, case aside, and ties on any column by name", () => {
    const many = ["db-10", "DB-3", "db-2", "db-1"].map((n) => instance(n, { tps: 5 }));
    expect(names(rowsOf(many, DEFAULT_VIEW))).toEqual(["db-1", "db-2", "DB-3", "db-10"]);
    expect(names(rowsOf(many, { ...DEFAULT_VIEW, dir: "desc" }))).toEqual(["db-10", "DB-3", "db-2", "db-1"]);
    // Equal values (here every rate, as every status in a healthy fleet): by name, whichever way.
    expect(names(rowsOf(many, { ...DEFAULT_VIEW, sort: "tps", dir: "desc" }))).toEqual(["db-1", "db-2", "DB-3", "db-10"]);
    expect(names(rowsOf(many, { ...DEFAULT_VIEW, sort: "status" }))).toEqual(["db-1", "db-2", "DB-3", "db-10"]);
  });

  it("sorts by a number either way, with no value last both times", () => {
    expect(names(rowsOf(fleet, { ...DEFAULT_VIEW, sort: "tps", dir: "asc" }))).toEqual(["db-b", "db-a", "db-c"]);
    expect(names(rowsOf(fleet, { ...DEFAULT_VIEW, sort: "tps", dir: "desc" }))).toEqual(["db-a", "db-b", "db-c"]);
  });

  it("sorts firing alerts by the worst severity, then how many", () => {
    expect(names(rowsOf(fleet, { ...DEFAULT_VIEW, sort: "firing", dir: "desc" }))).toEqual(["db-a", "db-b", "db-c"]);
  });

  it("filters by name, tag and status together", () => {
    expect(names(rowsOf(fleet, { ...DEFAULT_VIEW, tag: "prod" }))).toEqual(["db-a", "db-b"]);
    expect(names(rowsOf(fleet, { ...DEFAULT_VIEW, tag: "prod", status: "error" }))).toEqual(["db-b"]);
    expect(names(rowsOf(fleet, { ...DEFAULT_VIEW, q: "C" }))).toEqual(["db-c"]);
  });
});

describe("the view in the URL", () => {
  it("keeps only what differs from the default, and reads it back", () => {
    const v = { ...DEFAULT_VIEW, sort: "tps" as const, dir: "desc" as const, tag: "prod" };
    expect(queryOfView(v)).toBe("tag=prod&sort=tps&dir=desc");
    expect(viewOf(queryOfView(v))).toEqual(v);
    expect(queryOfView(DEFAULT_VIEW)).toBe("");
  });

  it("ignores an unknown sort column", () => {
    expect(viewOf("sort=password&dir=sideways")).toEqual(DEFAULT_VIEW);
  });

  it("flips the direction on the same column, and starts another ascending", () => {
    expect(toggleSort(DEFAULT_VIEW, "name")).toMatchObject({ sort: "name", dir: "desc" });
    expect(toggleSort({ ...DEFAULT_VIEW, dir: "desc" }, "tps")).toMatchObject({ sort: "tps", dir: "asc" });
  });
});

describe("tagsOf", () => {
  it("lists every tag once, sorted", () => {
    expect(tagsOf(fleet)).toEqual(["dev", "eu", "prod"]);
  });
});

describe("windowOf", () => {
  it("renders the rows in view and a few either side", () => {
    expect(windowOf(0, 400, 40, 1000, 5)).toEqual({ first: 0, last: 15 });
    expect(windowOf(4000, 400, 40, 1000, 5)).toEqual({ first: 95, last: 115 });
  });

  it("stops at the ends", () => {
    expect(windowOf(39900, 400, 40, 1000, 5)).toEqual({ first: 992, last: 1000 });
    expect(windowOf(0, 400, 40, 0)).toEqual({ first: 0, last: 0 });
  });
});

describe("sparkSegments", () => {
  it("scales the values into the box from zero to the highest", () => {
    expect(sparkSegments([0, 5, 10], 20, 10)).toEqual(["0.0,10.0 10.0,5.0 20.0,0.0"]);
  });

  it("leaves a gap where a value is missing, and draws nothing without values", () => {
    expect(sparkSegments([1, null, 1, 1], 30, 10)).toEqual(["0.0,0.0", "20.0,0.0 30.0,0.0"]);
    expect(sparkSegments([null, null], 30, 10)).toEqual([]);
  });
});

describe("sparkPaths", () => {
  it("draws runs as lines and lone values as dots, two paths however many gaps", () => {
    // 0..3 over 30 px: x = 0, 10, 20, 30; heights from 0 (bottom, y 16) to 3 (top, y 0).
    expect(sparkPaths([3, null, 0, 3], 30, 16)).toEqual({ lines: "M20.0,16.0L30.0,0.0", dots: "M0.0,0.0h0" });
    expect(sparkPaths([1, null, 1, null, 1], 40, 16).dots.match(/M/g)).toHaveLength(3);
    expect(sparkPaths([1, null, 1, null, 1], 40, 16).lines).toBe("");
    expect(sparkPaths([null, null], 60, 16)).toEqual({ lines: "", dots: "" });
  });
});
