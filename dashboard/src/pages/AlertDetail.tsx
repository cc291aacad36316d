import { useState } from "react";
import { get } from "../api/client";
import type { AlertWithHistory } from "../api/alerting";
import { AlertBadge, ErrorNote, LabelChips, Loading } from "../components/ui";
import { useLive } from "../hooks/useLive";
import { useTick } from "../hooks/useTick";
import { ago, value } from "../lib/format";
import type { PageProps } from "../router";
import { AlertButtons, AlertPanel, Handled, type Panel } from "./Alerts";
import { sourceOf } from "./alertList";

/** One alert: what it is about and every change of its state. */
export function AlertDetail({ params }: PageProps) {
  const id = params.id;
  const { data, error, reload } = useLive(() => get<AlertWithHistory>(`/alerts/${id}`), ["alert"], [id]);
  const [panel, setPanel] = useState<Panel>(null);
  useTick(10000);
  if (error && !data) return <><p><a href="#/alerts">← Alerts</a></p><ErrorNote text={error} /></>;
  if (!data) return <Loading what="the alert" />;
  const a = data;
  const history = [...a.history].sort((x, y) => y.sequence - x.sequence);
  return (
    <>
      <p><a href="#/alerts">← Alerts</a></p>
      <div className="title">
        <h1>{a.rule_name}</h1>
        <AlertBadge value={a.severity} />
        <AlertBadge value={a.state} />
      </div>
      {a.summary && <p>{a.summary}</p>}
      <ErrorNote text={error} />
      <AlertPanel panel={panel} onDone={() => { setPanel(null); reload(); }} />
      <section className="card" aria-label="Alert">
        <dl className="facts">
          <dt>Instance</dt>
          <dd>{a.instance_id && a.instance_name ? <a href={`#/instances/${a.instance_id}`}>{a.instance_name}</a> : sourceOf(a)}</dd>
          <dt>Rule</dt><dd><a href={`#/rules?rule=${a.rule_id}`}>{a.rule_name}</a></dd>
          <dt>Value</dt><dd>{value(a.value)}</dd>
          <dt>Since</dt><dd title={a.since}>{new Date(a.since).toLocaleString()} ({ago(a.since)})</dd>
          <dt>Fired</dt><dd>{a.fired_at ? new Date(a.fired_at).toLocaleString() : "–"}</dd>
          <dt>Resolved</dt><dd>{a.resolved_at ? new Date(a.resolved_at).toLocaleString() : "–"}</dd>
          <dt>Handled</dt><dd><Handled a={a} /></dd>
          <dt>Labels</dt><dd><LabelChips labels={Object.entries(a.labels).sort(([x], [y]) => x.localeCompare(y))} /></dd>
        </dl>
        <div className="actions"><AlertButtons a={a} open={setPanel} /></div>
      </section>
      <section aria-label="Transitions">
        <h2>History</h2>
        {history.length === 0 ? <p className="empty">No transitions recorded.</p> : (
          <div className="scroll">
            <table>
              <thead><tr><th>When</th><th>Event</th><th>Value</th><th>Rule version</th><th>By</th><th>Detail</th></tr></thead>
              <tbody>
                {history.map((t) => (
                  <tr key={t.sequence}>
                    <td title={t.at}>{new Date(t.at).toLocaleString()}</td>
                    <td><AlertBadge value={t.event} /></td>
                    <td className="num">{value(t.value)}</td>
                    <td>{t.rule_version ?? "–"}</td>
                    <td>{t.actor ?? <span className="muted">server</span>}</td>
                    <td>{t.detail ?? ""}</td>
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
