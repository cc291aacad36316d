import { describe, expect, it } from "vitest";
import type { SeriesAnswer } from "../api/types";
import { chartsOf, hitRatio, lines, merge } from "./instanceCharts";

function answer(metric: string, series: { labels: Record<string, string>; points: [number, number][] }[]): SeriesAnswer {
  return {
    metric, function: "raw", resolution: "raw", step_s: 60, from: "", to: "",
    series: series.map((s) => ({ ...s, counter: false })),
  };
}
const none = answer("none", []);

describe("lines", () => {
  it("labels each series and drops the empty ones", () => {
    const a = answer("m", [
      { labels: { database: "app" }, points: [[1000, 1]] },
      { labels: { database: "empty" }, points: [] },
    ]);
    expect(lines(a, (l) => l.database)).toEqual([{ label: "app", points: [[1000, 1]] }]);
  });
});

describe("merge", () => {
  it("sums the lines of one label at each time, in time order", () => {
    expect(merge([
      { label: "active", points: [[2000, 1], [1000, 2]] },
      { label: "idle", points: [[1000, 5]] },
      { label: "active", points: [[1000, 3]] },
    ])).toEqual([
      { label: "active", points: [[1000, 5], [2000, 1]] },
      { label: "idle", points: [[1000, 5]] },
    ]);
  });
});

describe("hitRatio", () => {
  it("is hits over hits and reads, per database, where both rates are known and not both zero", () => {
    const hits = answer("hit", [{ labels: { database: "app" }, points: [[1000, 90], [2000, 0], [3000, 50]] }]);
    const reads = answer("read", [{ labels: { database: "app" }, points: [[1000, 10], [2000, 0]] }]);
    expect(hitRatio(hits, reads)).toEqual([{ label: "app", points: [[1000, 90]] }]);
  });

  it("leaves out a database without reads", () => {
    const hits = answer("hit", [{ labels: { database: "other" }, points: [[1000, 1]] }]);
    expect(hitRatio(hits, none)).toEqual([]);
  });
});

describe("chartsOf", () => {
  it("shows sizes in MiB, checkpoints per minute and replicas by name", () => {
    const c = chartsOf({
      commits: none, conns: none, hits: none, reads: none,
      size: answer("size", [{ labels: { database: "app" }, points: [[1000, 3 * 1048576]] }]),
      lag: answer("lag", [
        { labels: { application_name: "standby1", client_addr: "10.0.0.2" }, points: [[1000, 5]] },
        { labels: { application_name: "", client_addr: "10.0.0.3" }, points: [[1000, 6]] },
        { labels: {}, points: [[1000, 7]] },
      ]),
      timed: answer("timed", [{ labels: {}, points: [[1000, 0.5]] }]),
      requested: answer("requested", [{ labels: {}, points: [[1000, 0.25]] }]),
    }, 0, 3600);
    expect(c.size).toEqual([{ label: "app", points: [[1000, 3]] }]);
    expect(c.lag.map((l) => l.label)).toEqual(["standby1", "10.0.0.3", "replica"]);
    expect(c.checkpoints).toEqual([
      { label: "timed", points: [[1000, 30]] },
      { label: "requested", points: [[1000, 15]] },
    ]);
    expect([c.from, c.to, c.tps, c.connections, c.hit]).toEqual([0, 3600, [], [], []]);
  });
});
