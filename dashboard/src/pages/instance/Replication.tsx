// Replication and WAL: each replica's lag (bytes and seconds), the replication slots with the WAL
// they keep, this instance's WAL rate and its checkpoints over the range.
import { Chart, type Line } from "../../components/Chart";
import { ErrorNote } from "../../components/ui";
import { bytes } from "../../lib/format";
import { lag as secs, latest, seriesOf, single } from "./latest";
import type { ViewProps } from "./props";
import { replicas, slots } from "./replication";
import { rangeKey, useView, windowNow } from "./useView";

const METRICS = [
  "pg_replication_lag_bytes", "pg_replication_lag_seconds", "pg_replication_slot_active",
  "pg_replication_slot_retained_wal_bytes", "pg_replication_replay_delay_seconds",
];

async function loadCharts(instance: string, from: number, to: number): Promise<{ from: number; to: number; wal: Line[]; checkpoints: Line[] }> {
  const scope = { instance_id: instance };
  // One server's WAL and checkpoints: two collectors of the instance see the same ones, so the
  // larger of their rates per bucket (a sum would count them twice; the first series alone
  // would drop one at random).
  const [wal, timed, requested] = await Promise.all([
    seriesOf(scope, "pg_wal_lsn_bytes", "rate", from, to, "max"),
    seriesOf(scope, "pg_checkpoints_timed_total", "rate", from, to, "max"),
    seriesOf(scope, "pg_checkpoints_requested_total", "rate", from, to, "max"),
  ]);
  const perMinute = (label: string, a: typeof timed): Line[] =>
    a.series.slice(0, 1).map((s) => ({ label, points: s.points.map(([x, y]): [number, number] => [x, y * 60]) })).filter((l) => l.points.length > 0);
  return {
    from, to,
    wal: wal.series.slice(0, 1).map((s) => ({ label: "WAL written", points: s.points })).filter((l) => l.points.length > 0),
    checkpoints: [...perMinute("timed", timed), ...perMinute("requested", requested)],
  };
}

export function Replication({ i, range, setRange }: ViewProps) {
  const now = useView(() => latest(i.name, METRICS, { within: 300 }), [i.name], 10000);
  const charts = useView(() => {
    const w = windowNow(range);
    return loadCharts(i.name, w.from, w.to);
  }, [i.name, rangeKey(range)], 15000);
  const rows = now.data?.rows ?? [];
  const reps = replicas(rows);
  const sl = slots(rows);
  const delay = single(rows, "pg_replication_replay_delay_seconds");
  const loading = now.data === null;
  return (
    <div className="replication-view" data-ready={loading ? "0" : "1"}>
      <ErrorNote text={now.error ?? charts.error} />
      {delay !== null && (
        <section className="card" aria-label="Standby">
          <h3>This instance is a standby</h3>
          <p className="big">{secs(delay)} <small>since the last replayed transaction</small></p>
        </section>
      )}
      {!loading && reps.length === 0 && sl.length === 0 && delay === null && (
        <p className="empty card" data-testid="no-replication">
          No replicas or replication slots — this is a primary with no standbys (or the collector's <code>replication</code> family is off).
        </p>
      )}
      {(loading || reps.length > 0) && (
        <section className="card" aria-label="Replicas">
          <h3>Replicas</h3>
          {loading ? <div className="placeholder" style={{ height: 80 }} /> : (
            <div className="scroll">
              <table aria-label="Replicas">
                <thead><tr><th>Replica</th><th>Address</th><th>State</th><th className="num">Behind</th><th className="num">Write lag</th><th className="num">Flush lag</th><th className="num">Replay lag</th></tr></thead>
                <tbody>
                  {reps.map((r) => (
                    <tr key={`${r.name}/${r.client}`}>
                      <td>{r.name}</td><td>{r.client}</td><td>{r.state}{r.sync ? ` (${r.sync})` : ""}</td>
                      <td className="num">{bytes(r.bytes)}</td><td className="num">{secs(r.write)}</td>
                      <td className="num">{secs(r.flush)}</td><td className="num">{secs(r.replay)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      )}
      {sl.length > 0 && (
        <section className="card" aria-label="Replication slots">
          <h3>Replication slots</h3>
          <div className="scroll">
            <table aria-label="Replication slots">
              <thead><tr><th>Slot</th><th>Type</th><th>Active</th><th className="num">Retained WAL</th></tr></thead>
              <tbody>
                {sl.map((s) => (
                  <tr key={s.name} className={s.active ? undefined : "highlight"}>
                    <td>{s.name}</td><td>{s.type}</td>
                    <td>{s.active ? <span className="badge active">active</span> : <span className="badge inactive">inactive</span>}</td>
                    <td className="num">{bytes(s.retained)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      <div className="charts">
        <Chart title="WAL rate" unit="bytes/s" lines={charts.data?.wal ?? null} from={charts.data?.from ?? range.from} to={charts.data?.to ?? range.to} onZoom={setRange} />
        <Chart title="Checkpoints" unit="/min" lines={charts.data?.checkpoints ?? null} from={charts.data?.from ?? range.from} to={charts.data?.to ?? range.to} onZoom={setRange} />
      </div>
    </div>
  );
}
