import { describe, expect, it } from "vitest";
import { align, colours, extent, lastValue, linesOf, OTHERS_COLOUR, othersLabel, PALETTE, ratioLines, scaled, shownGroups, yExtent, type GroupedAnswer, type Line } from "./chartData";

const top: GroupedAnswer = {
  series: [
    { labels: { database: "shop" }, points: [[1000, 50], [2000, 60]] },
    { labels: { database: "crm" }, points: [[1000, 20]] },
    { labels: {}, points: [[1000, 5], [2000, 7]], others: 18 },
  ],
  groups: [{ value: "shop", mean: 55, last: 60 }, { value: "crm", mean: 20, last: 20 }],
};

describe("linesOf", () => {
  it("makes a line per shown group and keeps the others line, last, with how many it folds", () => {
    expect(linesOf(top, "database")).toEqual([
      { label: "shop", group: "shop", points: [[1000, 50], [2000, 60]] },
      { label: "crm", group: "crm", points: [[1000, 20]] },
      { label: "others (18)", others: 18, points: [[1000, 5], [2000, 7]] },
    ]);
  });

  it("says what the others line folds, in the singular for one", () => {
    expect(linesOf(top, "database", undefined, "databases").at(-1)?.label).toBe("others (18 databases)");
    expect(othersLabel(1, "replicas")).toBe("others (1 replica)");
  });

  it("puts the others line last even when the answer does not", () => {
    const a: GroupedAnswer = { series: [top.series[2], top.series[0]] };
    expect(linesOf(a, "database").map((l) => l.label)).toEqual(["shop", othersLabel(18)]);
  });

  it("names a total by the given name and leaves out series without points", () => {
    const total: GroupedAnswer = { series: [{ labels: {}, points: [[1000, 75]] }, { labels: {}, points: [] }] };
    expect(linesOf(total, undefined, () => "all databases")).toEqual([{ label: "all databases", points: [[1000, 75]] }]);
    expect(linesOf({ series: [] }, "database")).toEqual([]);
  });

  it("names a group with an empty value, keeping the value to pair lines by", () => {
    const a: GroupedAnswer = { series: [{ labels: { application_name: "" }, points: [[1000, 1]] }] };
    expect(linesOf(a, "application_name")).toEqual([{ label: "(no name)", group: "", points: [[1000, 1]] }]);
  });

  it("lists the shown groups in order, without the others", () => {
    expect(shownGroups(top, "database")).toEqual(["shop", "crm"]);
  });
});

describe("ratioLines", () => {
  it("is part over part and rest in percent, group with group and others with others", () => {
    const hits = linesOf(top, "database");
    const reads = linesOf({
      series: [
        { labels: { database: "crm" }, points: [[1000, 80]] },
        { labels: { database: "shop" }, points: [[1000, 0], [2000, 60]] },
        { labels: {}, points: [[1000, 5], [2000, 0]], others: 18 },
      ],
    }, "database");
    expect(ratioLines(hits, reads)).toEqual([
      { label: "shop", group: "shop", points: [[1000, 100], [2000, 50]] },
      { label: "crm", group: "crm", points: [[1000, 20]] },
      { label: "others (18)", others: 18, points: [[1000, 50], [2000, 100]] },
    ]);
  });

  it("pairs totals by name, skips times when both are zero or one is missing, drops a line without its pair", () => {
    const part = [{ label: "all", points: [[1000, 9], [2000, 0], [3000, 4]] as [number, number][] }, { label: "lonely", group: "x", points: [[1000, 1]] as [number, number][] }];
    const rest = [{ label: "all", points: [[1000, 1], [2000, 0]] as [number, number][] }];
    expect(ratioLines(part, rest)).toEqual([{ label: "all", points: [[1000, 90]] }]);
  });
});

describe("helpers", () => {
  it("scale points, find the latest value and the extent", () => {
    expect(scaled([{ label: "a", points: [[1000, 0.5]] }], 60)).toEqual([{ label: "a", points: [[1000, 30]] }]);
    expect(lastValue({ label: "a", points: [[2000, 2], [1000, 1]] })).toBe(2);
    expect(lastValue({ label: "a", points: [] })).toBeNull();
    expect(extent(linesOf(top, "database"))).toEqual([5, 60]);
    expect(extent([])).toEqual([null, null]);
  });
});

describe("align", () => {
  it("shares one sorted time axis in seconds, with gaps where a line has no point", () => {
    const data = align([
      { label: "a", points: [[3000, 3], [1000, 1]] },
      { label: "b", points: [[2000, 20], [3000, 30]] },
    ]);
    expect(data).toEqual([
      [1, 2, 3],
      [1, null, 3],
      [null, 20, 30],
    ]);
  });

  it("gives an empty axis for no lines", () => {
    expect(align([])).toEqual([[]]);
  });
});

const line = (label: string, ys: number[], others?: number): Line =>
  ({ label, points: ys.map((y, i): [number, number] => [1000 * (i + 1), y]), ...(others !== undefined ? { others } : { group: label }) });

describe("yExtent", () => {
  it("leaves an others line far above the shown lines out of the y range, so the top lines stay readable", () => {
    // 50 similar databases: the others line is the sum of 45.
    const lines = [line("a", [10, 12]), line("b", [8, 9]), line("others (45 databases)", [400, 420], 45)];
    expect(yExtent(lines)).toEqual({ lo: 8, hi: 12, offScale: true });
  });

  it("keeps an others line within about 3 times the largest shown line on the scale", () => {
    const lines = [line("a", [10, 12]), line("others (3 databases)", [30, 36], 3)];
    expect(yExtent(lines)).toEqual({ lo: 10, hi: 36, offScale: false });
  });

  it("is the plain extent without an others line or without a shown line", () => {
    expect(yExtent([line("a", [1, 5])])).toEqual({ lo: 1, hi: 5, offScale: false });
    expect(yExtent([line("others (2 databases)", [7], 2)])).toEqual({ lo: 7, hi: 7, offScale: false });
    expect(yExtent([])).toEqual({ lo: null, hi: null, offScale: false });
  });

  it("scales to an others line when every shown line is zero but says it is off scale when it is not", () => {
    expect(yExtent([line("a", [0, 0]), line("others", [5], 4)])).toEqual({ lo: 0, hi: 0, offScale: true });
  });
});

describe("colours", () => {
  it("has 20 distinct colours, none the others line's grey", () => {
    expect(new Set(PALETTE).size).toBeGreaterThanOrEqual(20);
    expect(PALETTE).not.toContain(OTHERS_COLOUR);
  });

  it("gives 20 picked lines 20 different colours and the others line its grey", () => {
    const lines = [...Array.from({ length: 20 }, (_, i) => line(`db${i}`, [i])), line("others", [1], 30)];
    const c = colours(lines);
    expect(new Set(c.slice(0, 20)).size).toBe(20);
    expect(c[20]).toBe(OTHERS_COLOUR);
  });
});
