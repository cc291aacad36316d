import { describe, expect, it } from "vitest";
import { align } from "./chartData";

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
