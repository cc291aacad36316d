import { describe, expect, it } from "vitest";
import type { LatestRow } from "../../api/types";
import { age, freshest, lag, since, single, sumBy, topAndRest } from "./latest";

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
  it("keeps only the newest collection's rows of a metric", () => {
    const at = (ts: number, labels: Record<string, string>, values: Record<string, number>): LatestRow => ({ labels, ts, values, rates: {} });
    const rows = [
      at(5000, { database: "a", state: "idle" }, { c: 2 }),
      at(4000, { database: "b", state: "idle" }, { c: 7 }), // gone since: its last value is older
      at(5000, { database: "b", state: "active" }, { c: 1 }),
      at(9000, {}, { other: 1 }),
    ];
    expect(freshest(rows, "c").map((r) => r.labels.database + r.labels.state)).toEqual(["aidle", "bactive"]);
    expect(freshest(rows, "missing")).toEqual([]);
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
