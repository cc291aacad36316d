import { get } from "../api/client";
import type { AlertList } from "../api/alerting";
import type { Collector } from "../api/types";
import { AlertBadge, ErrorNote, Loading, StatusBadge } from "../components/ui";
import { useLive } from "../hooks/useLive";
import { useTick } from "../hooks/useTick";
import { ago, num } from "../lib/format";
import { byUrgency, firingBySeverity, sourceOf } from "./alertList";
import { Fleet, useFleet } from "./Fleet";

/** How many firing alerts the tile lists by name. */
const LISTED = 8;

/** What fires now: counts by severity and the most urgent firing alerts (live). */
function AlertsTile() {
  const { data, error } = useLive(() => get<AlertList>("/alerts?state=active"), ["alert"]);
  useTick(10000);
  const alerts = data?.alerts ?? [];
  const firing = byUrgency(alerts.filter((a) => a.state === "firing"));
  const pending = alerts.length - firing.length;
  return (
    <section className="card tile" aria-label="Alerts">
      <h2>Alerts</h2>
      {error ? <ErrorNote text={error} /> : data === null ? <Loading what="alerts" /> : (
        <>
          <p className="big">{firing.length} <small>firing{pending > 0 ? `, ${pending} pending` : ""}</small></p>
          <ul className="counts">
            {firingBySeverity(alerts).map(([s, n]) => <li key={s}><AlertBadge value={s} /> {n}</li>)}
          </ul>
          {firing.length > 0 && (
            <ul className="plain firing-list">
              {firing.slice(0, LISTED).map((a) => (
                <li key={a.id}>
                  <AlertBadge value={a.severity} /> <a href={`#/alerts/${a.id}`}>{a.rule_name}</a>{" "}
                  <span className="muted small">{sourceOf(a)} · {ago(a.since)}{a.acknowledged_by ? ` · ack ${a.acknowledged_by}` : ""}</span>
                </li>
              ))}
            </ul>
          )}
          <p><a href="#/alerts">{firing.length > LISTED ? `All ${firing.length} alerts` : "Alerts page"} →</a></p>
        </>
      )}
    </section>
  );
}

export function Overview() {
  // The fleet answers the instances tile too: one request for every instance on the page.
  const fleet = useFleet();
  const instances = fleet.data?.instances ?? null;
  const collectors = useLive(() => get<Collector[]>("/collectors"), ["collector", "collector_activity"]);
  const byStatus = new Map<string, number>();
  for (const i of instances ?? []) byStatus.set(i.status, (byStatus.get(i.status) ?? 0) + 1);
  const list = collectors.data ?? [];
  const online = list.filter((c) => c.status === "active").length;
  const perDay = list.reduce((n, c) => n + c.metrics_count_24h, 0);
  return (
    <>
      <h1>Overview</h1>
      <ErrorNote text={collectors.error} />
      <div className="tiles">
        <AlertsTile />
        <section className="card tile" aria-label="Instances">
          <h2>Managed instances</h2>
          {instances === null ? <Loading what="instances" /> : (
            <>
              <p className="big">{instances.length}</p>
              <ul className="plain">
                {[...byStatus].map(([s, n]) => (
                  <li key={s}><StatusBadge status={s} /> {n}</li>
                ))}
              </ul>
              {instances.length === 0 && <p className="empty">None yet: <a href="#/instances">add one</a>.</p>}
            </>
          )}
        </section>
        <section className="card tile" aria-label="Collectors">
          <h2>Collectors</h2>
          {collectors.data === null ? <Loading what="collectors" /> : (
            <>
              <p className="big">{online} <small>online</small></p>
              <p>{list.length - online} offline or never seen</p>
            </>
          )}
        </section>
        <section className="card tile" aria-label="Ingest">
          <h2>Ingest</h2>
          {collectors.data === null ? <Loading what="ingest" /> : (
            <>
              <p className="big">{num(perDay / 1440)} <small>points/min, 24-hour average</small></p>
              <p>{num(perDay)} data points in the last 24 hours</p>
            </>
          )}
        </section>
      </div>
      <Fleet data={fleet.data} error={fleet.error} />
    </>
  );
}
