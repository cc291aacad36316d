import { describe, expect, it } from "vitest";
import { axisLabel, durationText, formatTick, formatValue, short, sizeText, tickSteps, yRange } from "./units";

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

  it("goes below 0 only for negative values, and shows 0–1 for all zeros or no data", () => {
    expect(yRange("s", -2, 8)).toEqual([-2, 9]);
    expect(yRange("/s", 0, 0)).toEqual([0, 1]);
    expect(yRange("bytes", null, null)).toEqual([0, 1]);
  });
});
