// Statements (pg_stat_statements): the instance's top statements of the range by total time, by
// mean time and by calls, each with its trend; a statement's history (`queryid=…&qdb=…`): its text
// and its calls, mean time and total time over the range. Read per managed instance, not per
// collector: a collector watching two servers reports both servers' statements.
import { get } from "../../api/client";
import type { TopStatement } from "../../api/types";
import { Chart, type Line } from "../../components/Chart";
import { Sparkline } from "../../components/Sparkline";
import { ErrorNote } from "../../components/ui";
import { num, value } from "../../lib/format";
import { latest, seriesOf } from "./latest";
import type { ViewProps } from "./props";
import { findStatement, historyQuery, LISTS, meanPerBucket, oneLine, trendOf, type By } from "./statements";
import { rangeKey, useView, windowNow } from "./useView";

const LIMIT = 10;
/** The ranked lists reload no more often than this: each is one ranking over the range's samples. */
const LISTS_EVERY_MS = 30000;

/** The instance's own statements (collectors bound to it, its name only), ranked over `from`..`to`. */
function top(instanceId: string, by: By, from: number, to: number, limit = LIMIT): Promise<TopStatement[]> {
  return get<TopStatement[]>(`/managed-instances/${instanceId}/queries/top?by=${by}&limit=${limit}&from=${from}&to=${to}`);
}

/** The three lists, and whether the instance has any statement series at all (for the empty state). */
async function loadLists(instanceId: string, from: number, to: number) {
  const [total, mean, calls] = await Promise.all(LISTS.map(([by]) => top(instanceId, by, from, to)));
  const any = total.length + mean.length + calls.length > 0
    || (await latest(instanceId, ["pg_statement_calls_total"], { within: Math.max(900, Math.min(604800, to - from)) })).rows.length > 0;
  return { total_time: total, mean_time: mean, calls, any };
}
type Lists = Awaited<ReturnType<typeof loadLists>>;

function EmptyState({ database }: { database: string }) {
  return (
    <section className="card empty-state" data-testid="no-statements">
      <h3>No statement statistics from this instance</h3>
      <p>The collector reads them from <code>pg_stat_statements</code>. To turn it on:</p>
      <ol>
        <li>In <code>postgresql.conf</code>: <code>shared_preload_libraries = 'pg_stat_statements'</code>, then restart PostgreSQL.</li>
        <li>In the instance's database (<code>{database}</code>): <code>CREATE EXTENSION pg_stat_statements;</code></li>
      </ol>
      <p className="muted small">The collector's <code>statements</code> family must be on (it is in the standard preset).</p>
    </section>
  );
}

/** A list's figures, the one it ranks by first (on a phone it is the one in view beside the statement). */
const FIGURES: [By, string, (s: TopStatement) => string][] = [
  ["total_time", "Total ms", (s) => num(s.total_time_ms)],
  ["mean_time", "Mean ms", (s) => value(s.mean_time_ms)],
  ["calls", "Calls", (s) => num(s.calls)],
];

function List({ title, by, rows, href }: { title: string; by: By; rows: TopStatement[] | null; href: (s: TopStatement) => string }) {
  const unit = by === "calls" ? "calls" : "ms";
  const figures = [...FIGURES.filter(([k]) => k === by), ...FIGURES.filter(([k]) => k !== by)];
  return (
    <section className="card" aria-label={title}>
      <h3>{title}</h3>
      {rows === null ? <div className="placeholder" style={{ height: 200 }} /> : rows.length === 0 ? <p className="empty">No statements ran in this range.</p> : (
        <div className="scroll">
          <table className="statements" aria-label={title}>
            <thead>
              <tr>
                <th>Statement</th>
                <th className="num">{figures[0][1]}</th>
                <th>Trend</th>
                {figures.slice(1).map(([k, name]) => <th key={k} className="num">{name}</th>)}
                <th>Database</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => (
                <tr key={`${s.database}/${s.queryid}`} data-queryid={s.queryid}>
                  <td className="stmt"><a href={href(s)} title={s.query ?? s.queryid}><code>{oneLine(s.query) || s.queryid}</code></a></td>
                  <td className="num">{figures[0][2](s)}</td>
                  <td><Sparkline values={trendOf(s, by)} label={`${by === "mean_time" ? "mean time" : by === "calls" ? "calls" : "total time"} (${unit}) over the range`} /></td>
                  {figures.slice(1).map(([k, , f]) => <td key={k} className="num">{f(s)}</td>)}
                  <td>{s.database}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

async function loadHistory(instanceId: string, queryid: string, database: string, from: number, to: number) {
  // Summed per bucket: two collectors of the instance (or a statement seen twice) add up, none is dropped.
  const scope = { instance_id: instanceId, "label.queryid": queryid, "label.database": database };
  const [calls, time] = await Promise.all([
    seriesOf(scope, "pg_statement_calls_total", "rate", from, to, "sum"),
    seriesOf(scope, "pg_statement_exec_time_ms_total", "rate", from, to, "sum"),
  ]);
  const one = (label: string, points: [number, number][] = []): Line[] => (points.length > 0 ? [{ label, points }] : []);
  const [c, t] = [calls.series[0]?.points, time.series[0]?.points];
  return { from, to, calls: one("calls", c), total: one("time", t), mean: one("mean", meanPerBucket(t ?? [], c ?? [])) };
}

function History({ lists, queryid, database, props }: { lists: Lists | null; queryid: string; database: string; props: ViewProps }) {
  const { range, setRange, query, i } = props;
  const h = useView(() => {
    const w = windowNow(range);
    return loadHistory(i.id, queryid, database, w.from, w.to);
  }, [i.id, queryid, database, rangeKey(range)], 15000);
  // Its text and figures from the ranked lists the page reads anyway; when it is in none of
  // them, from one longer list, once (not again on every reload).
  const listed = lists ? findStatement([lists.total_time, lists.mean_time, lists.calls], queryid, database) : null;
  const looked = lists === null ? "wait" : listed ? "listed" : "look";
  const found = useView(async () => {
    if (looked !== "look") return null;
    const w = windowNow(range);
    return { s: findStatement([await top(i.id, "total_time", w.from, w.to, 100)], queryid, database) };
  }, [i.id, queryid, database, rangeKey(range), looked], 0);
  const back = new URLSearchParams(query);
  back.delete("queryid");
  back.delete("qdb");
  const s = listed ?? (looked === "look" ? found.data?.s ?? null : null);
  const missing = looked === "look" && found.data !== null && found.data.s === null;
  const from = h.data?.from ?? range.from;
  const to = h.data?.to ?? range.to;
  return (
    <div className="statement-history" data-ready={h.data ? "1" : "0"}>
      <p><a href={`#/instances/${i.id}?${back}`}>← All statements</a></p>
      <ErrorNote text={h.error ?? found.error} />
      <section className="card" aria-label="Statement">
        <h3>Statement {queryid} <span className="muted small">in {database}</span></h3>
        <pre className="statement-text">{s?.query ?? (missing ? "(its text is not in this range's top 100 statements)" : "\u00a0")}</pre>
        {s && <p className="muted small">{num(s.calls)} calls · {num(s.total_time_ms)} ms in all · {value(s.mean_time_ms)} ms on average in this range</p>}
      </section>
      <div className="charts">
        <Chart title="Calls" unit="/s" lines={h.data?.calls ?? null} from={from} to={to} onZoom={setRange} />
        {/* Per bucket: the time its calls took over their number (buckets without calls have no point). */}
        <Chart title="Mean time" unit="ms" lines={h.data?.mean ?? null} from={from} to={to} onZoom={setRange} empty="No calls in this range." />
        {/* ms of execution per second of wall time: how much of the server this statement keeps busy. */}
        <Chart title="Execution time per second" unit="ms" lines={h.data?.total ?? null} from={from} to={to} onZoom={setRange} empty="No executions in this range." />
      </div>
    </div>
  );
}

export function Statements(props: ViewProps) {
  const { i, range, query } = props;
  const queryid = query.get("queryid");
  const qdb = query.get("qdb");
  const lists = useView(() => {
    const w = windowNow(range);
    return loadLists(i.id, w.from, w.to);
  }, [i.id, rangeKey(range)], LISTS_EVERY_MS);
  if (queryid && qdb) return <History lists={lists.data} queryid={queryid} database={qdb} props={props} />;
  const href = (s: TopStatement) => `#/instances/${i.id}?${historyQuery(query, s.queryid, s.database)}`;
  if (lists.data && !lists.data.any) return <><ErrorNote text={lists.error} /><EmptyState database={i.database} /></>;
  return (
    <div className="statements-view" data-ready={lists.data ? "1" : "0"}>
      <ErrorNote text={lists.error} />
      {LISTS.map(([by, title]) => <List key={by} title={title} by={by} rows={lists.data?.[by] ?? null} href={href} />)}
    </div>
  );
}
