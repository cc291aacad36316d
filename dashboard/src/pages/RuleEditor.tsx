// The alert-rule form (new or editing), on the rules page. Its fields become a RuleSpec through
// ruleForm.ts, which names each mistake before the server would.
import { useState } from "react";
import { api } from "../api/client";
import { message } from "../api/errors";
import { AGGREGATES, FUNCTIONS, OPS, SEVERITIES, type Rule } from "../api/alerting";
import type { Collector, Instance } from "../api/types";
import { ErrorNote } from "../components/ui";
import { duration } from "../lib/format";
import { errorText, specOf, type RuleForm } from "./ruleForm";
import { conditionText } from "./ruleText";

/** Metrics the collector pushes that rules commonly watch (the field takes any name). */
const KNOWN_METRICS = [
  "pg_activity_connections", "pg_database_xact_commit_total", "pg_database_xact_rollback_total",
  "pg_database_blks_hit_total", "pg_database_blks_read_total", "pg_database_size_bytes",
  "pg_database_deadlocks_total", "pg_replication_lag_bytes", "pg_checkpoints_timed_total",
  "pg_checkpoints_requested_total",
];

const TEMPLATE_HINT = "{{rule}} on {{instance}}: {{value}} (threshold {{threshold}})";

type Target = { id: string; name: string };

/** A select of instances or collectors that keeps an id not (yet) in the list. */
function TargetSelect({ label, value, targets, onChange }: { label: string; value: string; targets: Target[]; onChange: (id: string) => void }) {
  const known = targets.some((t) => t.id === value);
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.target.value)} required>
        <option value="">choose…</option>
        {!known && value && <option value={value}>{value}</option>}
        {targets.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
      </select>
    </label>
  );
}

export function RuleEditor({ initial, editing, instances, collectors, onDone }: {
  initial: RuleForm;
  editing?: Rule;
  instances: Instance[];
  collectors: Collector[];
  onDone: (saved: boolean) => void;
}) {
  const [v, setV] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof RuleForm>(k: K, value: RuleForm[K]) => setV({ ...v, [k]: value });
  const text = (k: keyof RuleForm) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => set(k, e.target.value as never);
  const checked = specOf(v);
  const title = editing ? `Edit ${editing.name}` : "New alert rule";
  return (
    <form
      className="card form"
      aria-label={title}
      noValidate
      onSubmit={async (e) => {
        e.preventDefault();
        if (!checked.ok) return setError(errorText(checked.errors));
        setBusy(true);
        setError(null);
        try {
          if (editing) await api("PUT", `/alert-rules/${editing.id}`, checked.spec);
          else await api("POST", "/alert-rules", checked.spec);
          onDone(true);
        } catch (err) {
          setError(message(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>{title}{editing?.builtin && <span className="muted small"> (built-in {editing.builtin})</span>}</h2>
      <div className="grid">
        <label>Name<input value={v.name} onChange={text("name")} maxLength={100} required /></label>
        <label>
          Severity
          <select value={v.severity} onChange={text("severity")}>
            {SEVERITIES.map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
        <label>
          Condition
          <select value={v.kind} onChange={text("kind")}>
            <option value="metric">a metric crosses a threshold</option>
            <option value="silent">no data arrives (down)</option>
            <option value="connection_status">the connection fails</option>
          </select>
        </label>
      </div>
      {v.kind === "metric" && (
        <fieldset>
          <legend>Metric condition</legend>
          <div className="grid">
            <label>Metric<input value={v.metric} onChange={text("metric")} list="known-metrics" spellCheck={false} required /></label>
            <label>Plus metrics<input value={v.add} onChange={text("add")} placeholder="none (added series by series)" spellCheck={false} /></label>
            <label>Label filters<input value={v.labels} onChange={text("labels")} placeholder="database=app, state=active" spellCheck={false} /></label>
            <label>
              Function
              <select value={v.fn} onChange={text("fn")}>
                {FUNCTIONS.map((f) => <option key={f}>{f}</option>)}
              </select>
            </label>
            <label>Window (seconds)<input value={v.window_secs} onChange={text("window_secs")} inputMode="numeric" /></label>
            <label>
              Aggregate
              <select value={v.aggregate} onChange={text("aggregate")}>
                {AGGREGATES.map((a) => <option key={a}>{a}</option>)}
              </select>
            </label>
            <label>
              Operator
              <select value={v.op} onChange={text("op")}>
                {OPS.map((o) => <option key={o}>{o}</option>)}
              </select>
            </label>
            <label>Threshold<input value={v.threshold} onChange={text("threshold")} inputMode="decimal" required /></label>
          </div>
          <datalist id="known-metrics">{KNOWN_METRICS.map((m) => <option key={m} value={m} />)}</datalist>
          <label className="check">
            <input type="checkbox" checked={v.divide} onChange={(e) => set("divide", e.target.checked)} />
            Divide by another metric (a ratio)
          </label>
          {v.divide && (
            <div className="grid">
              <label>Divisor metric<input value={v.div_metric} onChange={text("div_metric")} list="known-metrics" spellCheck={false} /></label>
              <label>Divisor plus metrics<input value={v.div_add} onChange={text("div_add")} placeholder="none" spellCheck={false} /></label>
              <label>Divisor label filters<input value={v.div_labels} onChange={text("div_labels")} spellCheck={false} /></label>
              <label>
                Divisor function
                <select value={v.div_fn} onChange={text("div_fn")}>
                  {FUNCTIONS.map((f) => <option key={f}>{f}</option>)}
                </select>
              </label>
              <label>
                Divisor aggregate
                <select value={v.div_aggregate} onChange={text("div_aggregate")}>
                  {AGGREGATES.map((a) => <option key={a}>{a}</option>)}
                </select>
              </label>
            </div>
          )}
          <p className="muted small">
            value: the latest sample in the window; rate: per second over the window; increase: over the window.
            An aggregate combines the matching series of each instance.
          </p>
        </fieldset>
      )}
      {v.kind === "silent" && (
        <fieldset>
          <legend>No data</legend>
          <div className="grid">
            <label>
              Target
              <select value={v.target} onChange={text("target")}>
                <option value="instance">instance</option>
                <option value="collector">collector</option>
              </select>
            </label>
            <label>After (seconds)<input value={v.after_secs} onChange={text("after_secs")} inputMode="numeric" /></label>
          </div>
        </fieldset>
      )}
      <div className="grid">
        <label>For (seconds)<input value={v.for_secs} onChange={text("for_secs")} inputMode="numeric" /></label>
        <label>
          Scope
          <select value={v.scope} onChange={text("scope")}>
            <option value="all">all instances and collectors</option>
            <option value="tag">instances with a tag</option>
            <option value="instance">one instance</option>
            <option value="collector">one collector</option>
          </select>
        </label>
        {v.scope === "tag" && <label>Tag<input value={v.tag} onChange={text("tag")} placeholder="prod" /></label>}
        {v.scope === "instance" && <TargetSelect label="Instance" value={v.target_id} targets={instances} onChange={(id) => set("target_id", id)} />}
        {v.scope === "collector" && <TargetSelect label="Collector" value={v.target_id} targets={collectors} onChange={(id) => set("target_id", id)} />}
      </div>
      <label className="wide">Message<input value={v.message} onChange={text("message")} placeholder={TEMPLATE_HINT} /></label>
      <p className="muted small" aria-live="polite">
        {checked.ok ? <>Fires when <code>{conditionText(checked.spec.condition)}</code> for {duration(checked.spec.for_secs)}.</> : " "}
      </p>
      <ErrorNote text={error} />
      <div className="actions">
        <button type="submit" disabled={busy}>{editing ? "Save rule" : "Create rule"}</button>
        <button type="button" className="secondary" onClick={() => onDone(false)}>Cancel</button>
      </div>
    </form>
  );
}
