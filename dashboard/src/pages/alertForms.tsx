// The two things an editor does to an alert, shared by the alerts page and an alert's page:
// acknowledge it (with an optional comment) and silence what matches it for a while.
import { useState } from "react";
import { api } from "../api/client";
import { message } from "../api/errors";
import type { Alert, Matcher } from "../api/alerting";
import { ErrorNote } from "../components/ui";
import { SILENCE_HOURS, silenceBody } from "./silenceForm";

export function AckForm({ alert, onDone }: { alert: Alert; onDone: () => void }) {
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const what = `${alert.rule_name}${alert.instance_name ? ` on ${alert.instance_name}` : ""}`;
  return (
    <form
      className="card form"
      aria-label={`Acknowledge ${what}`}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await api("POST", `/alerts/${alert.id}/acknowledge`, comment.trim() ? { comment: comment.trim() } : {});
          onDone();
        } catch (err) {
          setError(message(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Acknowledge {what}</h2>
      <p className="muted small">Others see that you are on it; the alert keeps firing until its condition clears.</p>
      <div className="grid">
        <label>Comment (optional)<input value={comment} onChange={(e) => setComment(e.target.value)} maxLength={500} autoFocus /></label>
      </div>
      <ErrorNote text={error} />
      <div className="actions">
        <button type="submit" disabled={busy}>Save acknowledgement</button>
        <button type="button" className="secondary" onClick={onDone}>Cancel</button>
      </div>
    </form>
  );
}

export function SilenceForm({ title, initial, onDone }: { title: string; initial: Matcher[]; onDone: () => void }) {
  const [matchers, setMatchers] = useState<Matcher[]>(initial.length ? initial : [{ name: "", op: "=", value: "" }]);
  const [hours, setHours] = useState<number>(SILENCE_HOURS[0]);
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const change = (i: number, m: Partial<Matcher>) => setMatchers(matchers.map((x, j) => (j === i ? { ...x, ...m } : x)));
  return (
    <form
      className="card form"
      aria-label={title}
      onSubmit={async (e) => {
        e.preventDefault();
        const body = silenceBody(matchers, hours, comment);
        if (typeof body === "string") return setError(body);
        setBusy(true);
        setError(null);
        try {
          await api("POST", "/silences", body);
          onDone();
        } catch (err) {
          setError(message(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>{title}</h2>
      <p className="muted small">Alerts whose labels match every matcher send no notifications while the silence lasts.</p>
      <fieldset className="matchers">
        <legend>Matchers</legend>
        {matchers.map((m, i) => (
          <div className="matcher" key={i}>
            <input aria-label={`Matcher ${i + 1} label`} value={m.name} onChange={(e) => change(i, { name: e.target.value })} placeholder="label" />
            <select aria-label={`Matcher ${i + 1} operator`} value={m.op} onChange={(e) => change(i, { op: e.target.value as Matcher["op"] })}>
              <option value="=">=</option>
              <option value="!=">!=</option>
            </select>
            <input aria-label={`Matcher ${i + 1} value`} value={m.value} onChange={(e) => change(i, { value: e.target.value })} placeholder="value" />
            <button type="button" className="secondary" aria-label={`Remove matcher ${i + 1}`} onClick={() => setMatchers(matchers.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
        ))}
        <button type="button" className="secondary small" onClick={() => setMatchers([...matchers, { name: "", op: "=", value: "" }])}>
          Add matcher
        </button>
      </fieldset>
      <div className="grid">
        <label>
          Duration
          <select value={hours} onChange={(e) => setHours(Number(e.target.value))}>
            {SILENCE_HOURS.map((h) => <option key={h} value={h}>{h} h</option>)}
          </select>
        </label>
        <label>Comment<input value={comment} onChange={(e) => setComment(e.target.value)} placeholder="maintenance window" /></label>
      </div>
      <ErrorNote text={error} />
      <div className="actions">
        <button type="submit" disabled={busy}>Create silence</button>
        <button type="button" className="secondary" onClick={onDone}>Cancel</button>
      </div>
    </form>
  );
}
