// Activity now: the instance's sessions from its latest collection (within the last two minutes):
// by state and by database, waiting and blocked sessions, lock waits, the oldest transaction and
// query. The collector sends counts, so this view shows counts. It reads no time range.
import type { ReactNode } from "react";
import type { LatestRow } from "../../api/types";
import { num } from "../../lib/format";
import { ErrorNote } from "../../components/ui";
import { age, collected, current, latest, single, sumBy, topAndRest } from "./latest";
import type { ViewProps } from "./props";
import { useView } from "./useView";

const METRICS = [
  "pg_activity_connections", "pg_activity_waiting", "pg_locks_waiting", "pg_locks_granted",
  "pg_activity_max_xact_age_seconds", "pg_activity_max_query_age_seconds", "pg_activity_idle_in_transaction",
  "pg_activity_total", "pg_settings_max_connections", "pg_locks_blocked_sessions",
];
/** Databases named one by one; the others are summed. */
const TOP_DATABASES = 8;

function Tile({ title, value, note, alarm, testId }: { title: string; value: string; note?: string; alarm?: boolean; testId?: string }) {
  return (
    <section className={`card tile${alarm ? " alarm" : ""}`} aria-label={title} data-testid={testId}>
      <h3>{title}</h3>
      <p className="big">{value}</p>
      <p className="muted small">{note ?? "\u00a0"}</p>
    </section>
  );
}

/** Counts with a bar each, as long as the largest one. */
function Bars({ title, entries, rest, empty, link }: {
  title: string; entries: [string, number][]; rest?: { count: number; sum: number } | null; empty: string; link?: (name: string) => string;
}) {
  const max = Math.max(1, ...entries.map(([, v]) => v), rest?.sum ?? 0);
  const line = (name: string, label: ReactNode, v: number, cls?: string) => (
    <li key={name} className={cls}>
      <span className="bar-name" title={name}>{label}</span>
      <span className="bar wide"><span style={{ width: `${(v / max) * 100}%` }} /></span>
      <span className="bar-value">{num(v)}</span>
    </li>
  );
  return (
    <section className="card" aria-label={title}>
      <h3>{title}</h3>
      {entries.length === 0 ? <p className="empty">{empty}</p> : (
        <ul className="bars">
          {entries.map(([name, v]) => line(name, link ? <a href={link(name)}>{name || "(none)"}</a> : name || "(none)", v))}
          {rest && line("\u0000rest", <span className="muted">{rest.count} other{rest.count === 1 ? "" : "s"}</span>, rest.sum, "rest")}
        </ul>
      )}
    </section>
  );
}

export function Activity({ i, query }: ViewProps) {
  const { data, error } = useView(() => latest(i.name, METRICS, { within: 120 }), [i.name], 5000);
  const rows: LatestRow[] = data?.rows ?? [];
  const loading = data === null;
  const figure = (m: string) => single(rows, m);
  const blocked = figure("pg_locks_blocked_sessions");
  const total = figure("pg_activity_total");
  const max = figure("pg_settings_max_connections");
  const idleTx = figure("pg_activity_idle_in_transaction");
  // Rows of the pass the instance-wide figures come from (a metric with no rows now keeps its old ones).
  const ofActivity = (m: string) => current(rows, m, "pg_activity_total");
  const ofLocks = (m: string) => current(rows, m, "pg_locks_blocked_sessions");
  const waitingLocks = sumBy(ofLocks("pg_locks_waiting"), "mode", "pg_locks_waiting").filter(([, v]) => v > 0);
  const grantedLocks = sumBy(ofLocks("pg_locks_granted"), "mode", "pg_locks_granted");
  const waitRows = ofActivity("pg_activity_waiting");
  const waits = sumBy(waitRows, "wait_event", "pg_activity_waiting").filter(([, v]) => v > 0);
  const waitType = new Map(waitRows.map((r) => [r.labels.wait_event, r.labels.wait_event_type]));
  const waiting = waits.reduce((s, [, v]) => s + v, 0);
  const sessions = ofActivity("pg_activity_connections");
  const byDb = topAndRest(sumBy(sessions, "database", "pg_activity_connections").filter(([, v]) => v > 0), TOP_DATABASES);
  const byState = sumBy(sessions, "state", "pg_activity_connections").filter(([, v]) => v > 0);
  const dash = (v: number | null, f: (n: number) => string = num) => (loading || v === null ? "–" : f(v));
  const tablesOf = (db: string) => {
    const q = new URLSearchParams();
    q.set("tab", "tables");
    q.set("db", db);
    for (const k of ["range", "from", "to"]) if (query.has(k)) q.set(k, query.get(k)!);
    return `#/instances/${i.id}?${q}`;
  };
  return (
    <div className="activity" data-ready={loading ? "0" : "1"}>
      <p className="muted small view-when" data-testid="collected">{data ? collected(rows, data.at) : "\u00a0"}</p>
      <ErrorNote text={error} />
      {!loading && rows.length === 0 && (
        <p className="empty card">No activity sample in the last 2 minutes: is the collector running, with its <code>activity</code> family on?</p>
      )}
      <div className="tiles">
        <Tile
          title="Blocked sessions" testId="blocked-sessions" alarm={(blocked ?? 0) > 0} value={dash(blocked)}
          note={(blocked ?? 0) > 0 ? `waiting for a lock${waitingLocks.length ? `: ${waitingLocks.map(([m, v]) => `${num(v)} ${m}`).join(", ")}` : ""}` : "none waiting for a lock"}
        />
        <Tile
          title="Sessions" value={dash(total)}
          note={max !== null && total !== null ? `of max_connections ${num(max)} (${Math.round((total / max) * 100)} %)` : undefined}
        />
        <Tile title="Idle in transaction" alarm={(idleTx ?? 0) > 0 && (figure("pg_activity_max_xact_age_seconds") ?? 0) > 300} value={dash(idleTx)} note="sessions holding a transaction open" />
        <Tile title="Oldest transaction" value={dash(figure("pg_activity_max_xact_age_seconds"), age)} />
        <Tile title="Oldest query" value={dash(figure("pg_activity_max_query_age_seconds"), age)} />
        <Tile title="Waiting sessions" value={loading ? "–" : num(waiting)} note="on any wait event" />
      </div>
      <div className="panels">
        <Bars title="Sessions by state" entries={byState} empty={loading ? "\u00a0" : "No sessions."} />
        <Bars title="Sessions by database" entries={byDb.top} rest={byDb.rest} empty={loading ? "\u00a0" : "No sessions."} link={tablesOf} />
        <Bars
          title="Waiting sessions by wait event"
          entries={waits.map(([e, v]) => [`${waitType.get(e) ?? ""}${waitType.get(e) ? ": " : ""}${e}`, v])}
          empty={loading ? "\u00a0" : "No session is waiting."}
        />
        <Bars title="Lock waits by mode" entries={waitingLocks} empty={loading ? "\u00a0" : "No session waits for a lock."} />
        <Bars title="Locks held by mode" entries={grantedLocks.filter(([, v]) => v > 0)} empty={loading ? "\u00a0" : "No locks held."} />
      </div>
    </div>
  );
}
