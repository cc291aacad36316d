// Tables and indexes: every table the collector reports (the largest few hundred per database),
// sortable by any column with the sort in the URL (dead tuples first by default), filtered by the
// databases picked in `db=`; unused indexes and the largest indexes below. `row=` picks out a row.
// The figures are the latest collection's, whatever the page's range: the view reads no range
// (the page shows no picker above it) and its sparklines cover the last hour.
import { useMemo } from "react";
import { ErrorNote } from "../../components/ui";
import { SortTable, type Column } from "../../components/SortTable";
import { sortOf, withSort, type Sort } from "../../components/tableSort";
import { Sparkline } from "../../components/Sparkline";
import { bytes, num, percent } from "../../lib/format";
import { collected, latest, since } from "./latest";
import type { ViewProps } from "./props";
import { databasesOf, indexRows, inDatabases, INDEX_METRICS, serverSort, TABLE_METRICS, tableRows, type IndexRow, type TableRow } from "./tables";
import { useView } from "./useView";

const PRESETS: [string, Sort][] = [
  ["Most dead tuples", { key: "dead", dir: "desc" }],
  ["Highest dead ratio", { key: "deadRatio", dir: "desc" }],
  ["Largest", { key: "size", dir: "desc" }],
  ["Most sequential scans", { key: "seqScans", dir: "desc" }],
  ["Longest without vacuum", { key: "vacuumed", dir: "asc" }],
];
const DEFAULT_SORT: Sort = { key: "dead", dir: "desc" };

const n = (v: number | null) => (v === null ? "–" : num(v));
const when = (t: number | null) => (t ? new Date(t * 1000).toLocaleString() : "never");
/** The later of a manual and an automatic run, "auto" beside it when that was the later; both in the tooltip. */
const lastOf = (t: number | null, manual: number | null, auto: number | null, what: string) => (
  <span title={`${what}: ${when(manual)}\nauto${what}: ${when(auto)}`}>
    {since(t)}{t !== null && t === auto && t !== manual ? <span className="muted small"> auto</span> : null}
  </span>
);
/** Sparklines and figures read over the last hour: tables come every few minutes (300 s by default). */
const WITHIN_S = 3600;

const TABLE_COLUMNS: Column<TableRow>[] = [
  // The database under the name too: on a phone the first column stays in view while the rest scrolls.
  { key: "table", title: "Table", value: (r) => `${r.schema}.${r.table}`, cell: (r) => <><span className="rel">{r.schema}.{r.table}</span><span className="db">{r.database}</span></> },
  { key: "dead", title: "Dead", num: true, value: (r) => r.dead, cell: (r) => n(r.dead) },
  { key: "deadRatio", title: "Dead %", num: true, value: (r) => r.deadRatio, cell: (r) => <span className={(r.deadRatio ?? 0) > 0.2 ? "warn" : undefined}>{percent(r.deadRatio)}</span> },
  { key: "trend", title: "Dead, last hour", value: (r) => r.spark.at(-1) ?? null, cell: (r) => <Sparkline values={r.spark} label={`${r.table} dead tuples over the last hour`} /> },
  { key: "live", title: "Live", num: true, value: (r) => r.live, cell: (r) => n(r.live) },
  { key: "size", title: "Size", num: true, value: (r) => r.size, cell: (r) => bytes(r.size) },
  // Vacuumed by hand or by autovacuum, whichever was later; never sorts as the oldest: 0.
  { key: "vacuumed", title: "Last vacuum", num: true, value: (r) => r.vacuumed ?? 0, cell: (r) => lastOf(r.vacuumed, r.lastVacuum, r.lastAutovacuum, "vacuum") },
  { key: "analyzed", title: "Last analyze", num: true, value: (r) => r.analyzed ?? 0, cell: (r) => lastOf(r.analyzed, r.lastAnalyze, r.lastAutoanalyze, "analyze") },
  { key: "seqScans", title: "Seq scans", num: true, value: (r) => r.seqScans, cell: (r) => n(r.seqScans) },
  { key: "idxScans", title: "Index scans", num: true, value: (r) => r.idxScans, cell: (r) => n(r.idxScans) },
  { key: "database", title: "Database", value: (r) => r.database, cell: (r) => r.database },
];

const INDEX_COLUMNS = (tableLink: (r: IndexRow) => string): Column<IndexRow>[] => [
  { key: "index", title: "Index", value: (r) => r.index, cell: (r) => <><span className="rel">{r.index}</span><span className="db">{r.database}</span></> },
  { key: "size", title: "Size", num: true, value: (r) => r.size, cell: (r) => bytes(r.size) },
  { key: "scans", title: "Scans", num: true, value: (r) => r.scans, cell: (r) => n(r.scans) },
  { key: "table", title: "Table", value: (r) => `${r.schema}.${r.table}`, cell: (r) => <a href={tableLink(r)}>{r.schema}.{r.table}</a> },
  { key: "database", title: "Database", value: (r) => r.database, cell: (r) => r.database },
];
const INDEX_KEYS = ["index", "table", "database", "size", "scans"];
const LARGEST_INDEXES = 10;

export function Tables({ i, query, setQuery }: ViewProps) {
  const sort = sortOf(query, TABLE_COLUMNS.map((c) => c.key), DEFAULT_SORT);
  // Past 5,000 rows the server keeps the largest by this metric: the ones the chosen sort shows first.
  const cut = serverSort(sort);
  const tables = useView(() => latest(i.name, TABLE_METRICS, { within: WITHIN_S, spark: "pg_table_dead_tuples", sort: cut }), [i.name, cut], 30000);
  // Both index lists show the largest first.
  const indexes = useView(() => latest(i.name, INDEX_METRICS, { within: WITHIN_S, sort: "pg_index_size_bytes" }), [i.name], 30000);
  const picked = (query.get("db") ?? "").split(",").filter(Boolean);
  const allTables = useMemo(() => tableRows(tables.data?.rows ?? []), [tables.data]);
  const allIndexes = useMemo(() => indexRows(indexes.data?.rows ?? []), [indexes.data]);
  const databases = databasesOf([...allTables, ...allIndexes]);
  const shownTables = allTables.filter((t) => inDatabases(t.database, picked));
  const shownIndexes = allIndexes.filter((x) => inDatabases(x.database, picked));
  const unused = shownIndexes.filter((x) => x.unused);
  const largest = [...shownIndexes].sort((a, b) => (b.size ?? 0) - (a.size ?? 0)).slice(0, LARGEST_INDEXES);
  const unusedSort = sortOf(query, INDEX_KEYS, { key: "size", dir: "desc" }, "u");
  const set = (mutate: (q: URLSearchParams) => void) => {
    const q = new URLSearchParams(query);
    mutate(q);
    setQuery(q);
  };
  const tableLink = (r: IndexRow) => {
    const q = new URLSearchParams(query);
    q.set("row", `${r.database}.${r.schema}.${r.table}`);
    return `#/instances/${i.id}?${q}`;
  };
  const loading = tables.data === null;
  return (
    <div className="tables-view" data-ready={loading || indexes.data === null ? "0" : "1"}>
      <ErrorNote text={tables.error ?? indexes.error} />
      <p className="muted small view-when" data-testid="collected">{tables.data ? collected(tables.data.rows, tables.data.at) : "\u00a0"}</p>
      <div className="view-controls">
        <label className="inline-field">
          Database
          <select value={picked.length === 1 ? picked[0] : picked.length ? "*picked" : ""} onChange={(e) => set((q) => (e.target.value ? q.set("db", e.target.value) : q.delete("db")))}>
            <option value="">all ({databases.length})</option>
            {picked.length > 1 && <option value="*picked" disabled>{picked.join(", ")}</option>}
            {databases.map((d) => <option key={d} value={d}>{d}</option>)}
          </select>
        </label>
        <div className="presets" role="group" aria-label="Sort presets">
          {PRESETS.map(([title, s]) => (
            <button
              key={title}
              className={`secondary small${sort.key === s.key && sort.dir === s.dir ? " on" : ""}`}
              aria-pressed={sort.key === s.key && sort.dir === s.dir}
              onClick={() => setQuery(withSort(query, s))}
            >
              {title}
            </button>
          ))}
        </div>
      </div>
      <section className="card" aria-label="Tables">
        <h3>Tables {loading ? "" : <span className="muted small">{shownTables.length} of {allTables.length}</span>}</h3>
        {loading ? <div className="placeholder" style={{ height: 420 }} /> : (
          <SortTable
            label="Tables" columns={TABLE_COLUMNS} rows={shownTables} rowKey={(r) => r.key}
            sort={sort} onSort={(s) => setQuery(withSort(query, s))} highlight={query.get("row")}
            empty={<p className="empty">No table statistics in the last hour: the collector's <code>tables</code> family reports them every few minutes (turn it on in <code>[schedule.intervals]</code> if it is 0).</p>}
          />
        )}
        {tables.data?.truncated && <p className="muted small" data-testid="truncated">Only 5,000 tables are read: those with the most {cut === "pg_table_dead_tuples" ? "dead tuples" : TABLE_COLUMNS.find((c) => c.key === sort.key)?.title.toLowerCase()}.</p>}
      </section>
      <section className="card" aria-label="Unused indexes">
        <h3>Unused indexes <span className="muted small">never scanned since the statistics were reset; not unique, not a primary key</span></h3>
        {indexes.data === null ? <div className="placeholder" style={{ height: 160 }} /> : (
          <SortTable
            label="Unused indexes" columns={INDEX_COLUMNS(tableLink)} rows={unused} rowKey={(r) => r.key}
            sort={unusedSort} onSort={(s) => setQuery(withSort(query, s, "u"))}
            empty={<p className="empty">{allIndexes.length ? "No unused indexes." : <>No index statistics in the last hour: the collector's <code>indexes</code> family reports them.</>}</p>}
          />
        )}
        {indexes.data?.truncated && <p className="muted small" data-testid="truncated">Only the 5,000 largest indexes are read: smaller unused ones may be missing.</p>}
      </section>
      <section className="card" aria-label="Largest indexes">
        <h3>Largest indexes</h3>
        {indexes.data === null ? <div className="placeholder" style={{ height: 160 }} /> : (
          <SortTable
            label="Largest indexes" columns={INDEX_COLUMNS(tableLink)} rows={largest} rowKey={(r) => r.key}
            sort={sortOf(query, INDEX_KEYS, { key: "size", dir: "desc" }, "l")} onSort={(s) => setQuery(withSort(query, s, "l"))}
            empty={<p className="empty">No indexes.</p>}
          />
        )}
      </section>
    </div>
  );
}
