import { describe, expect, it } from "vitest";
import { rangeText } from "./rangeText";

describe("a fixed range in words", () => {
  it("names the day once when the window stays in one day", () => {
    const from = new Date(2026, 11, 3, 14, 5).getTime() / 1000;
    expect(rangeText(from, from + 1800)).toBe("Dec 3, 14:05 – 14:35");
  });
  it("names both days when it spans midnight", () => {
    const from = new Date(2026, 11, 3, 23, 30).getTime() / 1000;
    expect(rangeText(from, from + 3600)).toBe("Dec 3, 23:30 – Dec 4, 00:30");
  });
});
