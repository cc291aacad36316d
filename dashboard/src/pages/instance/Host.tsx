// The database host: CPU, memory, load and each disk's use, now and over the range. The collector
// reads them from /proc when it runs on the database's own machine.
import type { ReactNode } from "react";
import { Chart, type Line } from "../../components/Chart";
import { ErrorNote } from "../../components/ui";
import { bytes, percent, value } from "../../lib/format";
import { disks, HOST_METRICS, memory } from "./host";
import { latest, seriesOf, single } from "./latest";
import type { ViewProps } from "./props";
import { rangeKey, useView, windowNow } from "./useView";

async function loadCharts(instance: string, from: number, to: number) {
  const scope = { instance_id: instance };
  // One host: two collectors reporting it see the same figures; max keeps one line of them
  // (the first series alone would drop the other at random).
  const [cpu, load1, avail, total] = await Promise.all([
    seriesOf(scope, "node_cpu_percent", "raw", from, to, "max"),
    seriesOf(scope, "node_load1", "raw", from, to, "max"),
    seriesOf(scope, "node_memory_available_bytes", "raw", from, to, "max"),
    seriesOf(scope, "node_memory_total_bytes", "raw", from, to, "max"),
  ]);
  const one = (label: string, a: typeof cpu): Line[] => a.series.slice(0, 1).map((s) => ({ label, points: s.points })).filter((l) => l.points.length > 0);
  const totalAt = new Map(total.series[0]?.points ?? []);
  const used: Line[] = one("used", avail).map((l) => ({
    ...l, points: l.points.flatMap(([x, a]): [number, number][] => (totalAt.has(x) ? [[x, totalAt.get(x)! - a]] : [])),
  })).filter((l) => l.points.length > 0);
  return { from, to, cpu: one("CPU busy", cpu), load: one("load (1 min)", load1), memory: used };
}

function Tile({ title, children }: { title: string; children: ReactNode }) {
  return <section className="card tile" aria-label={title}><h3>{title}</h3>{children}</section>;
}

export function Host({ i, range, setRange }: ViewProps) {
  const now = useView(() => latest(i.name, HOST_METRICS, { within: 300 }), [i.name], 10000);
  const charts = useView(() => {
    const w = windowNow(range);
    return loadCharts(i.name, w.from, w.to);
  }, [i.name, rangeKey(range)], 15000);
  const rows = now.data?.rows ?? [];
  const loading = now.data === null;
  if (!loading && rows.length === 0) {
    return (
      <div className="host-view" data-ready="1">
        <ErrorNote text={now.error} />
        <p className="empty card" data-testid="no-host">
          No host metrics in the last 5 minutes. They come only when the collector runs on the database's own host (it reads
          <code> /proc</code>), with the <code>host</code> family on: <code>[schedule.intervals] host = 60</code> in its configuration.
        </p>
      </div>
    );
  }
  const mem = memory(rows);
  const cpu = single(rows, "node_cpu_percent");
  const d = disks(rows);
  const swapTotal = single(rows, "node_swap_total_bytes");
  const swapFree = single(rows, "node_swap_free_bytes");
  const from = charts.data?.from ?? range.from;
  const to = charts.data?.to ?? range.to;
  return (
    <div className="host-view" data-ready={loading ? "0" : "1"}>
      <ErrorNote text={now.error ?? charts.error} />
      <div className="tiles">
        <Tile title="CPU">
          <p className="big">{cpu === null ? "–" : `${cpu.toFixed(1)} %`}</p>
          <p className="muted small">busy, all cores</p>
        </Tile>
        <Tile title="Memory">
          <p className="big">{mem ? bytes(mem.used) : "–"}</p>
          <p className="muted small">
            {mem ? <>in use of {bytes(mem.total)}, {bytes(mem.available)} available <span className={`bar${mem.used / mem.total > 0.9 ? " high" : ""}`}><span style={{ width: `${(mem.used / mem.total) * 100}%` }} /></span></> : "\u00a0"}
          </p>
        </Tile>
        <Tile title="Load">
          <p className="big load">{["node_load1", "node_load5", "node_load15"].map((m) => value(single(rows, m))).join(" · ")}</p>
          <p className="muted small">1 · 5 · 15 min</p>
        </Tile>
        <Tile title="Swap">
          <p className="big">{swapTotal ? bytes(swapTotal - (swapFree ?? 0)) : swapTotal === 0 ? "none" : "–"}</p>
          <p className="muted small">{swapTotal ? `in use of ${bytes(swapTotal)}` : swapTotal === 0 ? "no swap on this host" : "\u00a0"}</p>
        </Tile>
      </div>
      <section className="card" aria-label="Disks">
        <h3>Disk use per path</h3>
        {loading ? <div className="placeholder" style={{ height: 80 }} /> : d.length === 0 ? <p className="empty">No file systems reported.</p> : (
          <div className="scroll">
            <table aria-label="Disks">
              {/* Use as df says it: of the space an unprivileged user can fill (root's reserve left out). */}
              <thead><tr><th>Path</th><th>Use</th><th className="num">Used</th><th className="num">Free</th><th className="num">Size</th></tr></thead>
              <tbody>
                {d.map((x) => (
                  <tr key={x.path}>
                    <td>{x.path}</td>
                    <td className="nowrap"><span className={`bar wide${x.ratio > 0.9 ? " high" : ""}`}><span style={{ width: `${x.ratio * 100}%` }} /></span> {percent(x.ratio)} <span className="muted small">of {bytes(x.size)}</span></td>
                    <td className="num">{bytes(x.used)}</td><td className="num">{bytes(x.free)}</td><td className="num">{bytes(x.size)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <div className="charts">
        <Chart title="CPU busy" unit="%" lines={charts.data?.cpu ?? null} from={from} to={to} onZoom={setRange} />
        <Chart title="Memory in use" unit="bytes" lines={charts.data?.memory ?? null} from={from} to={to} onZoom={setRange} />
        <Chart title="Load average" unit="count" lines={charts.data?.load ?? null} from={from} to={to} onZoom={setRange} />
      </div>
    </div>
  );
}
