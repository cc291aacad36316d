// The fleet overview: one row per managed instance from GET /fleet (one request for the whole
// fleet), sortable and filterable, the view kept in the URL. It stays fast with a thousand
// instances by rendering only the rows in view (rows have one fixed height; spacer rows stand in
// for the others) and drawing sparklines as plain SVG.
import { useEffect, useMemo, useRef, useState } from "react";
import type { FleetAnswer, FleetInstance } from "../api/history";
import { Sparkline } from "../components/Sparkline";
import { AlertBadge, ErrorNote, Loading, StatusBadge } from "../components/ui";
import { usePolled } from "../hooks/usePolled";
import { useTick } from "../hooks/useTick";
import { ago, bytes, num, percent, statusText, value } from "../lib/format";
import { hashQuery } from "./chartAlert";
import { loadFleet, takeEarlyAnswer } from "./fleetLoad";
import { queryOfView, rowsOf, STATUSES, tagsOf, toggleSort, viewOf, windowOf, type FleetView, type SortKey } from "./fleet";

const ROW = 44;
/** The list box's height, at most: about 14 rows, then it scrolls. */
const BOX = 620;

const COLUMNS: [SortKey, string][] = [
  ["name", "Instance"], ["status", "Status"], ["last_heartbeat", "Heartbeat"], ["tps", "TPS (1 h)"],
  ["connections", "Connections (1 h)"], ["cache_hit_ratio", "Cache hit"], ["replication_lag_s", "Repl. lag"],
  ["database_size_bytes", "Size"], ["firing", "Alerts"],
];

function Row({ i }: { i: FleetInstance }) {
  const used = i.connections !== null && i.max_connections ? Math.min(1, i.connections / i.max_connections) : null;
  return (
    <tr data-instance={i.id} style={{ height: ROW }}>
      <td className="name" title={i.tags.length ? `${i.name} (${i.tags.join(", ")})` : i.name}>
        <a href={`#/instances/${i.id}`}>{i.name}</a>
        {i.tags.length > 0 && <span className="tags"> {i.tags.join(", ")}</span>}
      </td>
      <td title={i.last_error ?? undefined}><StatusBadge status={i.status} testId="fleet-status" /></td>
      <td className="muted" title={i.last_heartbeat ?? ""}>{ago(i.last_heartbeat)}</td>
      <td className="num">
        <span className="n">{value(i.tps)}</span> <Sparkline values={i.spark_tps} label={`${i.name} transactions per second, last hour`} />
      </td>
      <td className="num">
        <span className="n">{i.connections === null ? "–" : num(i.connections)}{i.max_connections ? ` / ${num(i.max_connections)}` : ""}</span>
        {used !== null && (
          <span className={`bar${used > 0.9 ? " high" : ""}`} title={percent(used)}><span style={{ width: `${used * 100}%` }} /></span>
        )}
        <Sparkline values={i.spark_connections} label={`${i.name} connections, last hour`} />
      </td>
      <td className="num">{percent(i.cache_hit_ratio)}</td>
      <td className="num">{i.replication_lag_s === null ? "–" : `${value(i.replication_lag_s)} s`}</td>
      <td className="num">{bytes(i.database_size_bytes)}</td>
      <td>{i.firing > 0 ? <>{i.firing} {i.firing_severity && <AlertBadge value={i.firing_severity} />}</> : <span className="muted">0</span>}</td>
    </tr>
  );
}

function Table({ rows, view, setView }: { rows: FleetInstance[]; view: FleetView; setView: (v: FleetView) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(BOX);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const { first, last } = windowOf(top, height, ROW, rows.length);
  return (
    <div
      className="scroll fleet"
      ref={box}
      style={{ maxHeight: BOX }}
      onScroll={(e) => setTop(e.currentTarget.scrollTop)}
      data-fleet-ready={rows.length}
    >
      <table aria-label="Fleet" aria-rowcount={rows.length + 1}>
        <colgroup>
          {[16, 10, 9, 13, 20, 8, 7, 9, 8].map((w, n) => <col key={n} style={{ width: `${w}%` }} />)}
        </colgroup>
        <thead>
          <tr>
            {COLUMNS.map(([k, title]) => (
              <th key={k} aria-sort={view.sort === k ? (view.dir === "asc" ? "ascending" : "descending") : "none"} data-sort={k}>
                <button className="sort" onClick={() => setView(toggleSort(view, k))}>
                  {title}{view.sort === k ? (view.dir === "asc" ? " ▲" : " ▼") : ""}
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {first > 0 && <tr aria-hidden="true" className="spacer" style={{ height: first * ROW }}><td colSpan={COLUMNS.length} /></tr>}
          {rows.slice(first, last).map((i) => <Row key={i.id} i={i} />)}
          {last < rows.length && <tr aria-hidden="true" className="spacer" style={{ height: (rows.length - last) * ROW }}><td colSpan={COLUMNS.length} /></tr>}
        </tbody>
      </table>
    </div>
  );
}

/** The fleet section of the overview; `fleet` is the page's one GET /fleet answer. */
export function Fleet({ data, error }: { data: FleetAnswer | null; error: string | null }) {
  // Read from the URL once; then kept there without a new history entry per keystroke.
  const [view, setView] = useState(() => viewOf(hashQuery(window.location.hash)));
  useEffect(() => {
    const q = queryOfView(view);
    window.history.replaceState(null, "", `#/${q ? `?${q}` : ""}`);
  }, [view]);
  useTick(5000);
  const list = data?.instances ?? null;
  const tags = useMemo(() => (list ? tagsOf(list) : []), [list]);
  const rows = useMemo(() => (list ? rowsOf(list, view) : []), [list, view]);
  return (
    <section aria-label="Fleet">
      <div className="title">
        <h2>Fleet</h2>
        <div className="fleet-filters">
          <label className="inline-field">Name<input type="search" value={view.q} onChange={(e) => setView({ ...view, q: e.target.value })} placeholder="filter" /></label>
          <label className="inline-field">
            Tag
            <select value={view.tag} onChange={(e) => setView({ ...view, tag: e.target.value })}>
              <option value="">all</option>
              {tags.map((t) => <option key={t}>{t}</option>)}
            </select>
          </label>
          <label className="inline-field">
            Status
            <select value={view.status} onChange={(e) => setView({ ...view, status: e.target.value })}>
              <option value="">all</option>
              {STATUSES.map((s) => <option key={s} value={s}>{statusText(s)}</option>)}
            </select>
          </label>
        </div>
      </div>
      <ErrorNote text={error} />
      {list === null ? <Loading what="the fleet" /> : list.length === 0 ? (
        <p className="empty" data-fleet-ready="0">No managed instances yet: <a href="#/instances">add one</a>.</p>
      ) : (
        <>
          <Table rows={rows} view={view} setView={setView} />
          <p className="muted small">{rows.length === list.length ? `${list.length} instances` : `${rows.length} of ${list.length} instances`}</p>
        </>
      )}
    </section>
  );
}

/** GET /fleet, every 15 s and on live changes of instances and alerts (at most one load a 3 s). */
export function useFleet() {
  const [initial] = useState(takeEarlyAnswer);
  return usePolled(loadFleet, ["managed_instance", "alert"], 15000, 3000, initial);
}
