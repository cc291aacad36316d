import { describe, expect, it } from "vitest";
import type { LatestRow } from "../../api/types";
import { databasesOf, indexRows, inDatabases, tableRows } from "./tables";

const row = (labels: Record<string, string>, values: Record<string, number>, spark?: [number, number][]): LatestRow => ({ labels, ts: 0, values, rates: {}, spark });

describe("the tables view's rows", () => {
  it("makes one row per table with its dead ratio, 'never' vacuumed as null", () => {
    const [t] = tableRows([row({ database: "app", schema: "public", table: "orders" }, {
      pg_table_live_tuples: 750, pg_table_dead_tuples: 250, pg_table_size_bytes: 8192,
      pg_table_last_vacuum_timestamp_seconds: 0, pg_table_last_autovacuum_timestamp_seconds: 1700000000,
    }, [[1, 10], [2, 250]])]);
    expect(t.key).toBe("app.public.orders");
    expect(t.deadRatio).toBe(0.25);
    expect(t.lastVacuum).toBeNull();
    expect(t.lastAutovacuum).toBe(1700000000);
    expect(t.lastAnalyze).toBeNull();
    expect(t.spark).toEqual([10, 250]);
  });
  it("has no dead ratio for an empty table", () => {
    expect(tableRows([row({ database: "a", schema: "s", table: "t" }, { pg_table_live_tuples: 0, pg_table_dead_tuples: 0 })])[0].deadRatio).toBeNull();
  });
  it("flags unused indexes and leaves rows of other label sets out", () => {
    const rows = [
      row({ database: "a", schema: "s", table: "t", index: "t_x" }, { pg_index_size_bytes: 100, pg_index_unused: 1, pg_index_scans_total: 0 }),
      row({ database: "a", schema: "s", table: "t", index: "t_pkey" }, { pg_index_size_bytes: 50, pg_index_unused: 0, pg_index_scans_total: 9 }),
      row({ database: "b", schema: "s", table: "t" }, { pg_table_live_tuples: 1 }),
    ];
    expect(indexRows(rows).map((i) => [i.index, i.unused])).toEqual([["t_x", true], ["t_pkey", false]]);
    expect(tableRows(rows).map((t) => t.database)).toEqual(["b"]);
    expect(databasesOf([{ database: "b" }, { database: "a" }, { database: "b" }])).toEqual(["a", "b"]);
  });
  it("keeps every database when none is picked", () => {
    expect(inDatabases("x", [])).toBe(true);
    expect(inDatabases("x", ["y"])).toBe(false);
  });
});
