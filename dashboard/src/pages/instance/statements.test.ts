import { describe, expect, it } from "vitest";
import type { TopStatement } from "../../api/types";
import { findStatement, historyQuery, meanPerBucket, oneLine, trendOf } from "./statements";

const s: TopStatement = {
  queryid: "42", database: "app", query: "select 1", calls: 10, total_time_ms: 50, mean_time_ms: 5,
  trend: [[0, 4, 20], [1, 0, 0], [2, 6, 30]],
};

describe("statements", () => {
  it("trends by what the list sorts by", () => {
    expect(trendOf(s, "calls")).toEqual([4, 0, 6]);
    expect(trendOf(s, "total_time")).toEqual([20, 0, 30]);
    expect(trendOf(s, "mean_time")).toEqual([5, null, 5]);
  });
  it("links a statement to its history, keeping the range only", () => {
    const q = historyQuery(new URLSearchParams("tab=statements&range=6h&sort=dead&db=x"), "42", "app");
    expect(q.toString()).toBe("tab=statements&range=6h&queryid=42&qdb=app");
  });
  it("puts a statement on one short line", () => {
    expect(oneLine("select *\n  from t\twhere x = 1")).toBe("select * from t where x = 1");
    expect(oneLine("x".repeat(200), 10)).toBe(`${"x".repeat(9)}…`);
    expect(oneLine(null)).toBe("");
  });
  it("computes the mean time per bucket from the time and calls rates, skipping buckets without calls", () => {
    // ms of execution per second and calls per second: 40 ms/s over 4 calls/s is 10 ms a call.
    const time: [number, number][] = [[0, 40], [1, 0], [2, 30], [3, 5]];
    const calls: [number, number][] = [[0, 4], [1, 0], [2, 1]];
    expect(meanPerBucket(time, calls)).toEqual([[0, 10], [2, 30]]);
  });
  it("finds a statement in the ranked lists by queryid and database", () => {
    const other = { ...s, database: "other" };
    expect(findStatement([[other], [s]], "42", "app")).toBe(s);
    expect(findStatement([[other]], "42", "app")).toBeNull();
  });
});
