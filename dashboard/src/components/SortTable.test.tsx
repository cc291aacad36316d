import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { RangePicker } from "./RangePicker";
import { SortTable, type Column } from "./SortTable";

interface Row { name: string; dead: number | null }
const columns: Column<Row>[] = [
  { key: "name", title: "Table", value: (r) => r.name, cell: (r) => r.name },
  { key: "dead", title: "Dead", num: true, value: (r) => r.dead, cell: (r) => String(r.dead ?? "–") },
];
const rows: Row[] = [{ name: "a", dead: 5 }, { name: "b", dead: 50 }, { name: "c", dead: null }, { name: "d", dead: 1 }];
const order = (html: string) => [...html.matchAll(/data-row="(\w)"/g)].map((m) => m[1]);
const table = (props: Partial<Parameters<typeof SortTable<Row>>[0]> = {}) => renderToStaticMarkup(
  <SortTable label="Tables" columns={columns} rows={rows} rowKey={(r) => r.name} sort={{ key: "dead", dir: "desc" }} onSort={() => undefined} {...props} />,
);

describe("SortTable", () => {
  it("draws the rows in the sort's order and marks the sorted column", () => {
    const html = table();
    expect(order(html)).toEqual(["b", "a", "d", "c"]);
    expect(html).toContain('data-sort="dead" aria-sort="descending"');
    expect(html).toContain('data-sort="name" aria-sort="none"');
  });
  it("picks out the linked row", () => {
    expect(table({ highlight: "d" })).toContain('<tr data-row="d" class="highlight">');
  });
  it("draws at most `limit` rows, and the linked one, and says so", () => {
    const html = table({ limit: 2, highlight: "c" });
    expect(order(html)).toEqual(["b", "a", "c"]);
    expect(html).toContain("The first 2 of 4 in this order");
  });
  it("shows its empty note without rows", () => {
    expect(table({ rows: [], empty: <p>none</p> })).toBe("<p>none</p>");
  });
});

describe("RangePicker", () => {
  it("offers the moving ranges, and for a fixed one its from – to and a way back", () => {
    const moving = renderToStaticMarkup(<RangePicker range={{ from: 0, to: 3600, key: "1h" }} setRange={() => undefined} />);
    expect(moving).toContain('data-range="1h"');
    expect(moving).not.toContain("Back to live");
    const from = new Date(2026, 11, 3, 14, 5).getTime() / 1000;
    const fixed = renderToStaticMarkup(<RangePicker range={{ from, to: from + 1800, key: "custom" }} setRange={() => undefined} />);
    expect(fixed).toContain("Dec 3, 14:05 – 14:35");
    expect(fixed).toContain("Back to live");
  });
});
