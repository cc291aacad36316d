import { useEffect, useState } from "react";
import { get, may } from "../../api/client";
import { message } from "../../api/errors";
import type { Collector, Instance, SeriesAnswer, Statement } from "../../api/types";
import { Chart } from "../../components/Chart";
import { ErrorNote, Loading } from "../../components/ui";
import { num } from "../../lib/format";
import { CHART_SOURCES, prefillFromChart, ruleQuery } from "../chartAlert";
import { chartsOf, type Charts } from "../instanceCharts";

type ChartKey = Exclude<keyof Charts, "from" | "to">;

/** The charts in the page's order: their lines, title and unit. */
const CHARTS: [ChartKey, string, string][] = [
  ["tps", "Transactions per second", "commits/s"],
  ["connections", "Connections by state", "sessions"],
  ["hit", "Cache hit ratio", "%"],
  ["size", "Database size", "MiB"],
  ["lag", "Replication lag", "bytes"],
  ["checkpoints", "Checkpoints", "per minute"],
];

const RANGES: [string, number][] = [["15 min", 900], ["1 hour", 3600], ["6 hours", 21600], ["24 hours", 86400], ["7 days", 604800]];

async function series(instance: string, metric: string, fn: "raw" | "rate", from: number, to: number): Promise<SeriesAnswer> {
  const q = new URLSearchParams({ instance_id: instance, metric, fn, from: String(from), to: String(to) });
  return get<SeriesAnswer>(`/metrics/series?${q}`);
}

async function loadCharts(name: string, seconds: number): Promise<Charts> {
  const to = Math.floor(Date.now() / 1000);
  const from = to - seconds;
  const [commits, conns, hits, reads, size, lag, timed, requested] = await Promise.all([
    series(name, "pg_database_xact_commit_total", "rate", from, to),
    series(name, "pg_activity_connections", "raw", from, to),
    series(name, "pg_database_blks_hit_total", "rate", from, to),
    series(name, "pg_database_blks_read_total", "rate", from, to),
    series(name, "pg_database_size_bytes", "raw", from, to),
    series(name, "pg_replication_lag_bytes", "raw", from, to),
    series(name, "pg_checkpoints_timed_total", "rate", from, to),
    series(name, "pg_checkpoints_requested_total", "rate", from, to),
  ]);
  return chartsOf({ commits, conns, hits, reads, size, lag, timed, requested }, from, to);
}

/** The Metrics tab: the charts and the top statements over a chosen range. */
export function Metrics({ i, collector }: { i: Instance; collector: Collector | undefined }) {
  const [range, setRange] = useState(3600);
  const [charts, setCharts] = useState<Charts | null>(null);
  const [statements, setStatements] = useState<Statement[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const name = i.name;
  useEffect(() => {
    let live = true;
    const load = () =>
      loadCharts(name, range)
        .then((c) => live && (setCharts(c), setError(null)))
        .catch((e) => live && setError(message(e)));
    load();
    const t = window.setInterval(load, 15000);
    return () => {
      live = false;
      window.clearInterval(t);
    };
  }, [name, range]);
  useEffect(() => {
    if (!collector) return;
    const to = Math.floor(Date.now() / 1000);
    get<Statement[]>(`/collectors/${collector.id}/queries/slow?from=${to - range}&to=${to}&limit=10`)
      .then(setStatements)
      .catch(() => setStatements([]));
  }, [collector?.id, range]);
  return (
    <>
      <label className="inline">
        Time range{" "}
        <select value={range} onChange={(e) => setRange(Number(e.target.value))}>
          {RANGES.map(([l, s]) => <option key={s} value={s}>{l}</option>)}
        </select>
      </label>
      <ErrorNote text={error} />
      {charts === null ? <Loading what="charts" /> : (
        <div className="charts">
          {CHARTS.map(([key, title, unit]) => {
            const source = CHART_SOURCES[key];
            return (
              <Chart
                key={key}
                title={title}
                unit={unit}
                lines={charts[key]}
                from={charts.from}
                to={charts.to}
                action={source && may("createRule") && (
                  <button
                    className="secondary small"
                    title="Open a new alert rule for this chart's metric on this instance"
                    onClick={() => { window.location.hash = `#/rules?${ruleQuery(prefillFromChart(source, charts[key], i))}`; }}
                  >
                    Alert on this
                  </button>
                )}
              />
            );
          })}
        </div>
      )}
      <section className="card" aria-label="Top statements">
        <h3>Top statements (slowest by mean time)</h3>
        {statements === null ? <p className="empty">{collector ? "Loading…" : "No collector yet."}</p> : statements.length === 0 ? (
          <p className="empty">No statements in this range (pg_stat_statements installed?).</p>
        ) : (
          <div className="scroll">
            <table>
              <thead><tr><th>Statement</th><th>Database</th><th>Calls</th><th>Total ms</th><th>Mean ms</th></tr></thead>
              <tbody>
                {statements.map((s) => (
                  <tr key={s.queryid + s.database}>
                    <td><code>{s.query ?? s.queryid}</code></td><td>{s.database}</td><td>{num(s.calls)}</td>
                    <td>{num(s.total_time_ms)}</td><td>{s.mean_time_ms.toFixed(2)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
