import { describe, expect, it } from "vitest";
import { rangeKey, windowNow } from "./useView";

describe("a view's window", () => {
  it("moves a moving range to now, keeps a fixed one", () => {
    const moving = { from: 100, to: 1000, key: "15m" };
    expect(windowNow(moving, 5_000_000)).toEqual({ from: 5000 - 900, to: 5000 });
    expect(windowNow({ from: 100, to: 1000, key: "custom" }, 5_000_000)).toEqual({ from: 100, to: 1000 });
  });
  it("changes its key only for another window", () => {
    expect(rangeKey({ from: 1, to: 2, key: "1h" })).toBe(rangeKey({ from: 5, to: 9, key: "1h" }));
    expect(rangeKey({ from: 1, to: 2, key: "custom" })).not.toBe(rangeKey({ from: 1, to: 3, key: "custom" }));
  });
});
