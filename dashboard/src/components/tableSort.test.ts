import { describe, expect, it } from "vitest";
import { sortOf, sortRows, toggle, withSort } from "./tableSort";

describe("sortable tables", () => {
  it("reads the sort from the URL, and falls back on an unknown key", () => {
    const fallback = { key: "dead", dir: "desc" as const };
    expect(sortOf(new URLSearchParams("sort=size&dir=asc"), ["size", "dead"], fallback)).toEqual({ key: "size", dir: "asc" });
    expect(sortOf(new URLSearchParams("sort=nope"), ["size", "dead"], fallback)).toEqual(fallback);
    expect(sortOf(new URLSearchParams("isort=size"), ["size"], fallback, "i")).toEqual({ key: "size", dir: "desc" });
    const q = withSort(new URLSearchParams("tab=tables"), { key: "size", dir: "asc" });
    expect(q.toString()).toBe("tab=tables&sort=size&dir=asc");
  });
  it("turns a column around on a second click, starts a new one largest first", () => {
    expect(toggle({ key: "a", dir: "desc" }, "a")).toEqual({ key: "a", dir: "asc" });
    expect(toggle({ key: "a", dir: "asc" }, "b")).toEqual({ key: "b", dir: "desc" });
    expect(toggle({ key: "a", dir: "asc" }, "b", "asc")).toEqual({ key: "b", dir: "asc" });
  });
  it("sorts numbers and text either way, the missing last", () => {
    const rows = [{ n: 2, s: "b" }, { n: null, s: "a" }, { n: 10, s: "c" }, { n: 2, s: "a" }];
    const by = (r: (typeof rows)[number], k: string) => (k === "n" ? r.n : r.s);
    expect(sortRows(rows, { key: "n", dir: "desc" }, by).map((r) => r.n)).toEqual([10, 2, 2, null]);
    expect(sortRows(rows, { key: "n", dir: "asc" }, by).map((r) => r.n)).toEqual([2, 2, 10, null]);
    expect(sortRows(rows, { key: "n", dir: "asc" }, by).map((r) => r.s)).toEqual(["b", "a", "c", "a"]);
    expect(sortRows(rows, { key: "s", dir: "asc" }, by).map((r) => r.s)).toEqual(["a", "a", "b", "c"]);
  });
});
