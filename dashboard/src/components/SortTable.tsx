// A table sortable by any column (the sort lives in the URL, see tableSort.ts); wide tables
// scroll inside their box. A row can be picked out (`highlight`) and carries an id for links.
import { useEffect, useRef, type ReactNode } from "react";
import { sortRows, toggle, type Dir, type Sort } from "./tableSort";

export interface Column<T> {
  key: string;
  title: string;
  /** What the column sorts by; null sorts last. */
  value: (row: T) => number | string | null;
  cell: (row: T) => ReactNode;
  /** Right-aligned tabular figures; a first click sorts largest first. */
  num?: boolean;
}

export function SortTable<T>({ label, columns, rows, rowKey, sort, onSort, highlight, empty, limit = 500 }: {
  label: string;
  columns: Column<T>[];
  rows: readonly T[];
  rowKey: (row: T) => string;
  sort: Sort;
  onSort: (s: Sort) => void;
  /** The key of a row to pick out and scroll to (a link's target). */
  highlight?: string | null;
  empty?: ReactNode;
  /** Most rows drawn (thousands of rows make a slow page); the picked-out row is always drawn. */
  limit?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const col = columns.find((c) => c.key === sort.key) ?? columns[0];
  const all = sortRows(rows, sort, (r) => col.value(r));
  const sorted = all.length > limit ? all.filter((r, n) => n < limit || rowKey(r) === highlight) : all;
  const found = highlight ? sorted.some((r) => rowKey(r) === highlight) : false;
  useEffect(() => {
    if (!found || !box.current) return;
    box.current.querySelector<HTMLElement>("tr.highlight")?.scrollIntoView({ block: "center" });
  }, [found, highlight]);
  if (rows.length === 0) return <>{empty}</>;
  return (
    <div className="scroll sort-table" ref={box}>
      <table aria-label={label}>
        <thead>
          <tr>
            {columns.map((c) => {
              const dir: Dir = c.num ? "desc" : "asc";
              const on = sort.key === c.key;
              return (
                <th key={c.key} className={c.num ? "num" : undefined} data-sort={c.key} aria-sort={on ? (sort.dir === "asc" ? "ascending" : "descending") : "none"}>
                  <button className="sort" onClick={() => onSort(toggle(sort, c.key, dir))}>
                    {c.title}{on ? (sort.dir === "asc" ? " ▲" : " ▼") : ""}
                  </button>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {sorted.map((r) => {
            const k = rowKey(r);
            return (
              <tr key={k} data-row={k} className={k === highlight ? "highlight" : undefined}>
                {columns.map((c) => <td key={c.key} className={c.num ? "num" : undefined}>{c.cell(r)}</td>)}
              </tr>
            );
          })}
        </tbody>
      </table>
      {all.length > sorted.length && <p className="muted small more">The first {limit} of {all.length} in this order; pick a database to see the others.</p>}
    </div>
  );
}
