import { describe, expect, it } from "vitest";
import { rangeOf, withRange } from "./timeRange";

describe("timeRange", () => {
  it("reads a moving window, a fixed one, and falls back to an hour", () => {
    expect(rangeOf(new URLSearchParams("range=6h"), 100000)).toEqual({ from: 100000 - 21600, to: 100000, key: "6h" });
    expect(rangeOf(new URLSearchParams("from=10&to=20&range=6h"), 100000)).toEqual({ from: 10, to: 20, key: "custom" });
    expect(rangeOf(new URLSearchParams("from=30&to=20"), 100000).key).toBe("1h");
    expect(rangeOf(new URLSearchParams("range=bogus"), 100000).key).toBe("1h");
  });
  it("writes one form only and keeps the page's other parameters", () => {
    const q = withRange(new URLSearchParams("tab=tables&range=6h"), { from: 10.5, to: 20.2 });
    expect(q.toString()).toBe("tab=tables&from=10&to=21");
    expect(withRange(q, "1h").toString()).toBe("tab=tables");
    expect(withRange(q, "24h").toString()).toBe("tab=tables&range=24h");
  });
});
