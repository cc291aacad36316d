// The Tables view's rows from /metrics/latest: one per table and one per index, with the figures
// a DBA sorts by. Pure, tested in tables.test.ts.
import type { LatestRow } from "../../api/types";
import { val } from "./latest";

export const TABLE_METRICS = [
  "pg_table_size_bytes", "pg_table_live_tuples", "pg_table_dead_tuples", "pg_table_seq_scan_total", "pg_table_idx_scan_total",
  "pg_table_last_vacuum_timestamp_seconds", "pg_table_last_autovacuum_timestamp_seconds",
  "pg_table_last_analyze_timestamp_seconds", "pg_table_last_autoanalyze_timestamp_seconds",
];
export const INDEX_METRICS = ["pg_index_size_bytes", "pg_index_scans_total", "pg_index_unused"];

export interface TableRow {
  /** `database.schema.table`: the row's key and the target of links (`row=`). */
  key: string;
  database: string; schema: string; table: string;
  size: number | null; live: number | null; dead: number | null;
  /** dead / (live + dead); null without tuples. */
  deadRatio: number | null;
  lastVacuum: number | null; lastAutovacuum: number | null; lastAnalyze: number | null; lastAutoanalyze: number | null;
  /** The later of the last vacuum and autovacuum (unix s), null when neither ran: how long the table went without. */
  vacuumed: number | null;
  /** The later of the last analyze and autoanalyze. */
  analyzed: number | null;
  seqScans: number | null; idxScans: number | null;
  spark: (number | null)[];
}

export interface IndexRow {
  key: string;
  database: string; schema: string; table: string; index: string;
  size: number | null; scans: number | null; unused: boolean;
}

/** The row key of a table: what a link's `row=` names. */
export function tableKey(database: string, schema: string, table: string): string {
  return `${database}.${schema}.${table}`;
}

/** Whether a row belongs to the picked databases (none picked: all). */
export function inDatabases(database: string, picked: readonly string[]): boolean {
  return picked.length === 0 || picked.includes(database);
}

/** The later of two times, null when neither is set. */
const later = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

export function tableRows(rows: LatestRow[]): TableRow[] {
  return rows.filter((r) => r.labels.table !== undefined && r.labels.index === undefined).map((r) => {
    const [database, schema, table] = [r.labels.database ?? "", r.labels.schema ?? "", r.labels.table];
    const live = val(r, "pg_table_live_tuples");
    const dead = val(r, "pg_table_dead_tuples");
    const tuples = (live ?? 0) + (dead ?? 0);
    const lastVacuum = val(r, "pg_table_last_vacuum_timestamp_seconds") || null;
    const lastAutovacuum = val(r, "pg_table_last_autovacuum_timestamp_seconds") || null;
    const lastAnalyze = val(r, "pg_table_last_analyze_timestamp_seconds") || null;
    const lastAutoanalyze = val(r, "pg_table_last_autoanalyze_timestamp_seconds") || null;
    return {
      key: tableKey(database, schema, table), database, schema, table,
      size: val(r, "pg_table_size_bytes"), live, dead,
      deadRatio: dead !== null && tuples > 0 ? dead / tuples : null,
      lastVacuum, lastAutovacuum, lastAnalyze, lastAutoanalyze,
      vacuumed: later(lastVacuum, lastAutovacuum), analyzed: later(lastAnalyze, lastAutoanalyze),
      seqScans: val(r, "pg_table_seq_scan_total"), idxScans: val(r, "pg_table_idx_scan_total"),
      spark: (r.spark ?? []).map(([, v]) => v),
    };
  });
}

export function indexRows(rows: LatestRow[]): IndexRow[] {
  return rows.filter((r) => r.labels.index !== undefined).map((r) => {
    const [database, schema, table, index] = [r.labels.database ?? "", r.labels.schema ?? "", r.labels.table ?? "", r.labels.index];
    return {
      key: `${database}.${schema}.${index}`, database, schema, table, index,
      size: val(r, "pg_index_size_bytes"), scans: val(r, "pg_index_scans_total"), unused: val(r, "pg_index_unused") === 1,
    };
  });
}

/**
 * The metric the server sorts the rows by (largest first) before its 5,000-row cut, for the
 * table's sort: the column's own metric when it sorts largest first, else the dead tuples (a
 * cut by the largest vacuum times would keep the tables vacuumed last, the opposite of asked).
 */
export function serverSort(s: { key: string; dir: "asc" | "desc" }): string {
  const byKey: Record<string, string> = {
    dead: "pg_table_dead_tuples", deadRatio: "pg_table_dead_tuples", trend: "pg_table_dead_tuples",
    live: "pg_table_live_tuples", size: "pg_table_size_bytes",
    seqScans: "pg_table_seq_scan_total", idxScans: "pg_table_idx_scan_total",
  };
  return (s.dir === "desc" && byKey[s.key]) || "pg_table_dead_tuples";
}

/** The databases the rows come from, by name. */
export function databasesOf(rows: readonly { database: string }[]): string[] {
  return [...new Set(rows.map((r) => r.database))].sort();
}
