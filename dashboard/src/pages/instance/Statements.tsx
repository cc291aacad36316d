// Statements (pg_stat_statements): the top statements of the range by total time, by mean time
// and by calls, each with its trend; a statement's history (`queryid=…&qdb=…`): its text and its
// calls, mean time and total time over the range.
import { get } from "../../api/client";
import type { TopStatement } from "../../api/types";
import { Chart, type Line } from "../../components/Chart";
import { Sparkline } from "../../components/Sparkline";
import { ErrorNote } from "../../components/ui";
import { num, value } from "../../lib/format";
import { latest, seriesOf } from "./latest";
import type { ViewProps } from "./props";
import { historyQuery, LISTS, oneLine, trendOf, type By } from "./statements";
import { rangeKey, useView, windowNow } from "./useView";

const LIMIT = 10;

function top(collector: string, by: By, from: number, to: number, limit = LIMIT): Promise<TopStatement[]> {
  return get<TopStatement[]>(`/collectors/${collector}/queries/top?by=${by}&limit=${limit}&from=${from}&to=${to}`);
}

/** The three lists, and whether the instance has any statement series at all (for the empty state). */
async function loadLists(collector: string, instance: string, from: number, to: number) {
  const [total, mean, calls] = await Promise.all(LISTS.map(([by]) => top(collector, by, from, to)));
  const any = total.length + mean.length + calls.length > 0
    || (await latest(instance, ["pg_statement_calls_total"], { within: Math.max(900, Math.min(604800, to - from)) })).rows.length > 0;
  return { total_time: total, mean_time: mean, calls, any };
}

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

async function loadHistory(collector: string, queryid: string, database: string, from: number, to: number) {
  const scope = { collector_id: collector, "label.queryid": queryid, "label.database": database };
  const [calls, total, mean, listed] = await Promise.all([
    seriesOf(scope, "pg_statement_calls_total", "rate", from, to),
    seriesOf(scope, "pg_statement_exec_time_ms_total", "rate", from, to),
    seriesOf(scope, "pg_statement_mean_time_ms", "raw", from, to),
    top(collector, "total_time", from, to, 100).catch(() => [] as TopStatement[]),
  ]);
  const one = (label: string, a: typeof calls): Line[] => a.series.slice(0, 1).map((s) => ({ label, points: s.points })).filter((l) => l.points.length > 0);
  const found = listed.find((s) => s.queryid === queryid && s.database === database) ?? null;
  return { from, to, calls: one("calls", calls), total: one("time", total), mean: one("mean", mean), statement: found };
}

function History({ collector, queryid, database, props }: { collector: string; queryid: string; database: string; props: ViewProps }) {
  const { range, setRange, query, i } = props;
  const h = useView(() => {
    const w = windowNow(range);
    return loadHistory(collector, queryid, database, w.from, w.to);
  }, [collector, queryid, database, rangeKey(range)], 15000);
  const back = new URLSearchParams(query);
  back.delete("queryid");
  back.delete("qdb");
  const s = h.data?.statement;
  const from = h.data?.from ?? range.from;
  const to = h.data?.to ?? range.to;
  return (
    <div className="statement-history" data-ready={h.data ? "1" : "0"}>
      <p><a href={`#/instances/${i.id}?${back}`}>← All statements</a></p>
      <ErrorNote text={h.error} />
      <section className="card" aria-label="Statement">
        <h3>Statement {queryid} <span className="muted small">in {database}</span></h3>
        <pre className="statement-text">{s?.query ?? (h.data ? "(its text is not in this range's top statements)" : "\u00a0")}</pre>
        {s && <p className="muted small">{num(s.calls)} calls · {num(s.total_time_ms)} ms in all · {value(s.mean_time_ms)} ms on average in this range</p>}
      </section>
      <div className="charts">
        <Chart title="Calls" unit="/s" lines={h.data?.calls ?? null} from={from} to={to} onZoom={setRange} />
        <Chart title="Mean time" unit="ms" lines={h.data?.mean ?? null} from={from} to={to} onZoom={setRange} />
        {/* ms of execution per second of wall time: how much of the server this statement keeps busy. */}
        <Chart title="Execution time per second" unit="ms" lines={h.data?.total ?? null} from={from} to={to} onZoom={setRange} empty="No executions in this range." />
      </div>
    </div>
  );
}

export function Statements(props: ViewProps) {
  const { i, collector, range, query } = props;
  const queryid = query.get("queryid");
  const qdb = query.get("qdb");
  const lists = useView(async () => {
    if (!collector) return null;
    const w = windowNow(range);
    return loadLists(collector.id, i.name, w.from, w.to);
  }, [collector?.id, i.name, rangeKey(range)], 30000);
  if (!collector) return <p className="empty card">No collector reports this instance yet, so there are no statements.</p>;
  if (queryid && qdb) return <History collector={collector.id} queryid={queryid} database={qdb} props={props} />;
  const href = (s: TopStatement) => `#/instances/${i.id}?${historyQuery(query, s.queryid, s.database)}`;
  if (lists.data && !lists.data.any) return <><ErrorNote text={lists.error} /><EmptyState database={i.database} /></>;
  return (
    <div className="statements-view" data-ready={lists.data ? "1" : "0"}>
      <ErrorNote text={lists.error} />
      {LISTS.map(([by, title]) => <List key={by} title={title} by={by} rows={lists.data?.[by] ?? null} href={href} />)}
    </div>
  );
}
