import { describe, expect, it } from "vitest";
import { axisLabel, count, durationText, formatTick, formatTicks, formatValue, short, singular, sizeText, tickSteps, yRange } from "./units";

describe("formatValue", () => {
  it("shows sizes in their largest binary unit", () => {
    expect(formatValue(512, "bytes")).toBe("512 B");
    expect(formatValue(1536, "bytes")).toBe("1.5 KiB");
    expect(formatValue(3 * 1024 ** 3, "bytes")).toBe("3 GiB");
    expect(formatValue(7.25 * 1024 ** 2, "bytes/s")).toBe("7.25 MiB/s");
  });

  it("shows rates per second and per minute, short", () => {
    expect(formatValue(12.345, "/s")).toBe("12.3/s");
    expect(formatValue(45678, "/s")).toBe("45.7k/s");
    expect(formatValue(0.5, "/min")).toBe("0.5/min");
  });

  it("shows percentages to a tenth, durations in their largest unit, counts with their noun", () => {
    expect(formatValue(99.456, "%")).toBe("99.5 %");
    expect(formatValue(100, "%")).toBe("100 %");
    expect(formatValue(0, "%")).toBe("0 %");
    expect(formatValue(0.35, "s")).toBe("350 ms");
    expect(formatValue(330, "s")).toBe("5.5 min");
    expect(formatValue(1500, "ms")).toBe("1.5 s");
    expect(formatValue(12, "sessions")).toBe("12 sessions");
    expect(formatValue(3, "count")).toBe("3");
  });

  it("names one thing in the singular", () => {
    expect(formatValue(1, "sessions")).toBe("1 session");
    expect(formatValue(1.0004, "sessions")).toBe("1 session");
    expect(formatValue(0, "sessions")).toBe("0 sessions");
    expect(formatValue(1.5, "sessions")).toBe("1.5 sessions");
    expect(formatValue(1, "replicas")).toBe("1 replica");
    expect(formatValue(-1, "processes")).toBe("-1 process");
    expect([singular("databases"), singular("entries"), singular("matches"), singular("bytes"), singular("status")]).toEqual(["database", "entry", "match", "byte", "status"]);
    expect([count(1, "databases"), count(45, "databases"), count(0, "replicas")]).toEqual(["1 database", "45 databases", "0 replicas"]);
  });

  it("shows a ratio just under 100 % with the digits that tell it from 100 %", () => {
    expect(formatValue(99.97, "%")).toBe("99.97 %");
    expect(formatValue(99.996, "%")).toBe("99.99 %");
    expect(formatValue(100, "%")).toBe("100 %");
  });

  it("says – for no value", () => {
    expect(formatValue(null, "bytes")).toBe("–");
    expect(formatValue(undefined, "%")).toBe("–");
    expect(formatValue(Number.NaN, "/s")).toBe("–");
  });
});

describe("the pieces", () => {
  it("are short numbers, sizes and durations", () => {
    expect([short(0), short(950), short(1234), short(2.5e6), short(7.8e9), short(0.012345)]).toEqual(["0", "950", "1.23k", "2.5M", "7.8G", "0.0123"]);
    expect([sizeText(0), sizeText(1023), sizeText(1024), sizeText(-2048)]).toEqual(["0 B", "1023 B", "1 KiB", "-2 KiB"]);
    expect([durationText(0), durationText(59), durationText(7200), durationText(3 * 86400)]).toEqual(["0 s", "59 s", "2 h", "3 d"]);
  });
});

describe("axes", () => {
  it("tick sizes in binary units and name rates on the axis", () => {
    expect(formatTick(512 * 1024 ** 2, "bytes")).toBe("512 MiB");
    expect(formatTick(1500, "/s")).toBe("1.5k");
    expect(formatTick(50, "%")).toBe("50 %");
    expect(axisLabel("/s")).toBe("per second");
    expect(axisLabel("bytes")).toBe("");
    expect(axisLabel("sessions")).toBe("sessions");
  });

  it("tick a narrow percent range with as many decimals as its steps need, and no more", () => {
    expect(formatTicks([99.9, 99.92, 99.94, 99.96, 99.98, 100], "%")).toEqual(["99.9 %", "99.92 %", "99.94 %", "99.96 %", "99.98 %", "100 %"]);
    expect(formatTicks([95, 97.5, 100], "%")).toEqual(["95 %", "97.5 %", "100 %"]);
    expect(formatTicks([0, 25, 50, 75, 100], "%")).toEqual(["0 %", "25 %", "50 %", "75 %", "100 %"]);
    expect(formatTicks([1024, 2048], "bytes")).toEqual(["1 KiB", "2 KiB"]);
  });

  it("step sizes by powers of 1024, counts by whole numbers", () => {
    const bytes = tickSteps("bytes");
    expect(bytes).toContain(1024 ** 3);
    expect(bytes).toContain(500 * 1024 ** 2);
    expect(bytes).not.toContain(1000);
    expect(Math.min(...tickSteps("sessions"))).toBe(1);
    expect(Math.min(...tickSteps("/s"))).toBeLessThan(1);
  });
});

describe("yRange", () => {
  it("starts at 0, not at the data's minimum, with head room above the maximum", () => {
    expect(yRange("bytes", 1000, 1100)).toEqual([0, 1210]);
    expect(yRange("/s", 5, 10)).toEqual([0, 11]);
    expect(yRange("sessions", 3, 3)).toEqual([0, 3.3]);
  });

  it("keeps percentages at 0–100 whatever the data", () => {
    expect(yRange("%", 99.1, 99.9)).toEqual([0, 100]);
    expect(yRange("%", null, null)).toEqual([0, 100]);
  });

  it("reads a ratio near its top: 100 % above, a round floor below the lowest value, never below 0", () => {
    // A drop from 99.9 % to 97 % fills the plot instead of looking flat.
    expect(yRange("%", 97, 99.9, true)).toEqual([95, 100]);
    expect(yRange("%", 99.93, 99.99, true)).toEqual([99.9, 100]);
    expect(yRange("%", 99.9, 100, true)).toEqual([99.8, 100]);
    expect(yRange("%", 100, 100, true)).toEqual([99.9, 100]);
    expect(yRange("%", 91, 99, true)).toEqual([90, 100]);
    expect(yRange("%", 62, 99, true)).toEqual([50, 100]);
    expect(yRange("%", 3, 99, true)).toEqual([0, 100]);
    expect(yRange("%", 0, 40, true)).toEqual([0, 100]);
    expect(yRange("%", null, null, true)).toEqual([0, 100]);
  });

  it("goes below 0 only for negative values, and shows 0–1 for all zeros or no data", () => {
    expect(yRange("s", -2, 8)).toEqual([-2, 9]);
    expect(yRange("/s", 0, 0)).toEqual([0, 1]);
    expect(yRange("bytes", null, null)).toEqual([0, 1]);
  });
});
