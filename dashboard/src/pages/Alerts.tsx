import { useState } from "react";
import { get, may } from "../api/client";
import type { Alert, AlertList } from "../api/alerting";
import { AlertBadge, ErrorNote, LabelChips, Loading } from "../components/ui";
import { useLive } from "../hooks/useLive";
import { useTick } from "../hooks/useTick";
import { ago, value } from "../lib/format";
import { AckForm, SilenceForm } from "./alertForms";
import { byUrgency, newestFirst, sourceOf } from "./alertList";
import { extraLabels } from "./ruleText";
import { matchersFor } from "./silenceForm";

/** What an editor is doing to one alert: acknowledging or silencing it. */
export type Panel = { kind: "ack" | "silence"; alert: Alert } | null;

export function AlertPanel({ panel, onDone }: { panel: Panel; onDone: () => void }) {
  if (!panel) return null;
  const a = panel.alert;
  return panel.kind === "ack"
    ? <AckForm key={a.id} alert={a} onDone={onDone} />
    : <SilenceForm key={a.id} title={`Silence ${a.rule_name}`} initial={matchersFor(a)} onDone={onDone} />;
}

/** Who acknowledged an alert, when, and why; or that a silence holds its notifications. */
export function Handled({ a }: { a: Alert }) {
  return (
    <>
      {a.acknowledged_by && (
        <div data-testid="acknowledged">
          acknowledged by <strong>{a.acknowledged_by}</strong>{" "}
          <span className="muted small" title={a.acknowledged_at ?? ""}>{ago(a.acknowledged_at)}</span>
          {a.ack_comment && <div className="muted small">“{a.ack_comment}”</div>}
        </div>
      )}
      {a.silenced_by && <div className="muted small">notifications held by a <a href="#/silences">silence</a></div>}
      {!a.acknowledged_by && !a.silenced_by && <span className="muted">–</span>}
    </>
  );
}

/**
 * The Acknowledge and Silence buttons, for those who may (an editor or admin). Only a firing
 * alert can be acknowledged: the server answers 409 for a pending one (its domain's
 * `AlertError::NotActive`), though the contract would take pending ones too.
 */
export function AlertButtons({ a, open }: { a: Alert; open: (p: Panel) => void }) {
  const active = a.state !== "resolved";
  return (
    <>
      {a.state === "firing" && !a.acknowledged_by && may("acknowledgeAlert") && (
        <button onClick={() => open({ kind: "ack", alert: a })}>Acknowledge</button>
      )}
      {active && may("createSilence") && (
        <button className="secondary" onClick={() => open({ kind: "silence", alert: a })}>Silence</button>
      )}
    </>
  );
}

const HISTORY_ROWS = 100;

export function Alerts() {
  const active = useLive(() => get<AlertList>("/alerts?state=active"), ["alert"]);
  const history = useLive(() => get<AlertList>("/alerts?state=all"), ["alert"]);
  const [panel, setPanel] = useState<Panel>(null);
  useTick(10000);
  const done = () => {
    setPanel(null);
    active.reload();
    history.reload();
  };
  const list = active.data ? byUrgency(active.data.alerts) : null;
  const past = history.data ? newestFirst(history.data.alerts).slice(0, HISTORY_ROWS) : null;
  return (
    <>
      <div className="title">
        <h1>Alerts</h1>
      </div>
      <AlertPanel panel={panel} onDone={done} />
      <ErrorNote text={active.error} />
      <section aria-label="Active alerts">
        <h2>Firing and pending</h2>
        {list === null ? <Loading what="alerts" /> : list.length === 0 ? (
          <p className="empty card">Nothing fires. <a href="#/rules">Rules</a> say what should.</p>
        ) : (
          <div className="scroll">
            <table className="stack">
              <thead>
                <tr>
                  <th>Severity</th><th>State</th><th>Rule</th><th>Instance</th><th>Labels</th><th>Value</th>
                  <th>Acknowledged</th><th><span className="sr">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {list.map((a) => (
                  <tr key={a.id} data-alert={a.id}>
                    <td data-label="Severity"><AlertBadge value={a.severity} /></td>
                    <td data-label="State"><AlertBadge value={a.state} /><div className="muted small" title={a.since}>since {ago(a.since)}</div></td>
                    <td data-label="Rule"><a href={`#/alerts/${a.id}`}>{a.rule_name}</a>{a.summary && <div className="muted small">{a.summary}</div>}</td>
                    <td className="nowrap" data-label="Instance">{a.instance_id && a.instance_name ? <a href={`#/instances/${a.instance_id}`}>{a.instance_name}</a> : sourceOf(a)}</td>
                    <td data-label="Labels"><LabelChips labels={extraLabels(a.labels)} /></td>
                    <td className="num" data-label="Value">{value(a.value)}</td>
                    <td data-label="Acknowledged"><Handled a={a} /></td>
                    <td className="actions"><AlertButtons a={a} open={setPanel} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-label="Alert history">
        <h2>History</h2>
        <ErrorNote text={history.error} />
        {past === null ? <Loading what="the history" /> : past.length === 0 ? <p className="empty">No alert yet.</p> : (
          <div className="scroll">
            <table className="stack">
              <thead><tr><th>Since</th><th>State</th><th>Severity</th><th>Rule</th><th>Instance</th><th>Value</th><th>Resolved</th></tr></thead>
              <tbody>
                {past.map((a) => (
                  <tr key={a.id}>
                    <td title={a.since} data-label="Since">{new Date(a.since).toLocaleString()}</td>
                    <td data-label="State"><AlertBadge value={a.state} /></td>
                    <td data-label="Severity"><AlertBadge value={a.severity} /></td>
                    <td data-label="Rule"><a href={`#/alerts/${a.id}`}>{a.rule_name}</a></td>
                    <td className="nowrap" data-label="Instance">{sourceOf(a)}</td>
                    <td className="num" data-label="Value">{value(a.value)}</td>
                    <td data-label="Resolved">{a.resolved_at ? new Date(a.resolved_at).toLocaleString() : "–"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {history.data && history.data.alerts.length > HISTORY_ROWS && (
          <p className="muted small">The {HISTORY_ROWS} newest of {history.data.alerts.length}.</p>
        )}
      </section>
    </>
  );
}
