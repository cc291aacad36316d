import { describe, expect, it } from "vitest";
import type { LatestRow } from "../../api/types";
import { sortRows } from "../../components/tableSort";
import { databasesOf, indexRows, inDatabases, serverSort, tableRows } from "./tables";

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
  it("goes without vacuum from the later of vacuum and autovacuum (and analyze alike)", () => {
    const t = (table: string, v: number, av: number, a = 0, aa = 0) => row({ database: "a", schema: "s", table }, {
      pg_table_last_vacuum_timestamp_seconds: v, pg_table_last_autovacuum_timestamp_seconds: av,
      pg_table_last_analyze_timestamp_seconds: a, pg_table_last_autoanalyze_timestamp_seconds: aa,
    });
    // manual: vacuumed by hand an hour ago, never by autovacuum; auto: autovacuumed a day ago.
    const rows = tableRows([t("manual", 1_700_000_000, 0, 0, 1_600_000_000), t("auto", 0, 1_699_900_000), t("never", 0, 0)]);
    expect(rows.map((r) => [r.table, r.vacuumed, r.analyzed])).toEqual([
      ["manual", 1_700_000_000, 1_600_000_000], ["auto", 1_699_900_000, null], ["never", null, null],
    ]);
    // "Longest without vacuum": never first (0), then the longest ago; sorted by autovacuum alone, manual came before auto.
    const longest = sortRows(rows, { key: "vacuumed", dir: "asc" }, (r) => r.vacuumed ?? 0);
    expect(longest.map((r) => r.table)).toEqual(["never", "auto", "manual"]);
  });
  it("asks the server to keep the rows the chosen sort shows first", () => {
    expect(serverSort({ key: "dead", dir: "desc" })).toBe("pg_table_dead_tuples");
    expect(serverSort({ key: "size", dir: "desc" })).toBe("pg_table_size_bytes");
    expect(serverSort({ key: "seqScans", dir: "desc" })).toBe("pg_table_seq_scan_total");
    // Smallest first or no metric of its own: the dead tuples.
    expect(serverSort({ key: "size", dir: "asc" })).toBe("pg_table_dead_tuples");
    expect(serverSort({ key: "vacuumed", dir: "asc" })).toBe("pg_table_dead_tuples");
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
