import { describe, expect, it } from "vitest";
import type { LatestRow } from "../../api/types";
import { age, collected, current, lag, since, single, sumBy, topAndRest } from "./latest";

const row = (labels: Record<string, string>, values: Record<string, number>): LatestRow => ({ labels, ts: 0, values, rates: {} });

describe("latest rows", () => {
  it("sums a metric per label value, largest first and ties by name", () => {
    const rows = [
      row({ database: "a", state: "active" }, { c: 2 }),
      row({ database: "b", state: "idle" }, { c: 3 }),
      row({ database: "a", state: "idle" }, { c: 4 }),
      row({ database: "c", state: "idle" }, { c: 3 }),
      row({ database: "d", state: "idle" }, { other: 9 }),
    ];
    expect(sumBy(rows, "database", "c")).toEqual([["a", 6], ["b", 3], ["c", 3]]);
    expect(sumBy(rows, "state", "c")).toEqual([["idle", 10], ["active", 2]]);
  });
  it("keeps a metric's rows only from its anchor's collection", () => {
    const at = (ts: number, labels: Record<string, string>, values: Record<string, number>): LatestRow => ({ labels, ts, values, rates: {} });
    // Nobody waits now: pg_activity_waiting's last rows (ts 4000) are still in the window, and
    // they are the newest of their metric, but the pass at 5000 sent none.
    const rows = [
      at(5000, {}, { pg_activity_total: 3 }),
      at(4000, { wait_event_type: "Lock", wait_event: "relation" }, { pg_activity_waiting: 1 }),
      at(5000, { database: "a", state: "idle" }, { pg_activity_connections: 3 }),
    ];
    expect(current(rows, "pg_activity_waiting", "pg_activity_total")).toEqual([]);
    expect(current(rows, "pg_activity_connections", "pg_activity_total").map((r) => r.labels.database)).toEqual(["a"]);
    // No anchor: as the server gave them.
    expect(current(rows.slice(1), "pg_activity_waiting", "pg_activity_total")).toHaveLength(1);
  });
  it("says how old the latest collection is by the server's clock", () => {
    const at = "2026-12-03T18:00:00Z";
    const t = Date.parse(at);
    expect(collected([{ labels: {}, ts: t - 12_000, values: {}, rates: {} }, { labels: {}, ts: t - 300_000, values: {}, rates: {} }], at)).toBe("latest collection, 12 s ago");
    expect(collected([], at)).toBe("no collection yet");
  });
  it("keeps the top n and sums the rest", () => {
    const e: [string, number][] = [["a", 5], ["b", 4], ["c", 3], ["d", 2]];
    expect(topAndRest(e, 2)).toEqual({ top: [["a", 5], ["b", 4]], rest: { count: 2, sum: 5 } });
    expect(topAndRest(e, 4)).toEqual({ top: e, rest: null });
  });
  it("reads an instance-wide figure, null when absent", () => {
    expect(single([row({}, { x: 3 })], "x")).toBe(3);
    expect(single([row({}, { x: 3 })], "y")).toBeNull();
  });
  it("says ages and times since in words", () => {
    expect(age(45)).toBe("45 s");
    expect(age(750)).toBe("12 min");
    expect(age(3 * 3600 + 300)).toBe("3 h 5 min");
    expect(age(2 * 86400 + 4 * 3600)).toBe("2 d 4 h");
    expect(age(null)).toBe("–");
    expect(lag(0.35)).toBe("350 ms");
    expect(lag(75)).toBe("1 min");
    expect(lag(null)).toBe("–");
    const now = 1_700_000_000_000;
    expect(since(0, now)).toBe("never");
    expect(since(undefined, now)).toBe("never");
    expect(since(now / 1000 - 3 * 3600 - 10, now)).toBe("3 h ago");
  });
});
