import { useState } from "react";
import { get } from "../api/client";
import { message } from "../api/errors";
import type { DiffAnswer, HistoryAnswer, HistoryResource } from "../api/history";
import { useLive } from "../hooks/useLive";
import { fromLocalInput, toLocalInput } from "../lib/format";
import { asOf, fieldRows, fieldText, span } from "./historyView";
import { ErrorNote, Loading } from "./ui";

/** Compares the entity between two instants (GET /{resource}/{id}/diff): what changed, and by which events. */
function Compare({ resource, id, from }: { resource: HistoryResource; id: string; from: number }) {
  const [a, setA] = useState(() => toLocalInput(from));
  const [b, setB] = useState(() => toLocalInput(Date.now()));
  const [diff, setDiff] = useState<DiffAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    const [x, y] = [fromLocalInput(a), fromLocalInput(b)];
    if (x === null || y === null) return setError("Choose both instants.");
    try {
      const q = new URLSearchParams({ from: new Date(x).toISOString(), to: new Date(y).toISOString() });
      setDiff(await get<DiffAnswer>(`/${resource}/${id}/diff?${q}`));
      setError(null);
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <section className="card" aria-label="Compare">
      <h3>Compare two instants</h3>
      <div className="as-of">
        <label className="inline-field">From<input type="datetime-local" step="1" value={a} onChange={(e) => setA(e.target.value)} /></label>
        <label className="inline-field">To<input type="datetime-local" step="1" value={b} onChange={(e) => setB(e.target.value)} /></label>
        <button type="button" className="secondary small" onClick={run}>Compare</button>
      </div>
      <ErrorNote text={error} />
      {diff && (diff.changes.length === 0 ? <p className="empty">No change between them.</p> : (
        <div className="scroll">
          <table>
            <thead><tr><th>Field</th><th>From</th><th>To</th></tr></thead>
            <tbody>
              {diff.changes.map((c) => (
                <tr key={c.field}><td><code>{c.field}</code></td><td className="wrap">{fieldText(c.from)}</td><td className="wrap">{fieldText(c.to)}</td></tr>
              ))}
            </tbody>
          </table>
          <p className="muted small">
            {diff.events.length} event{diff.events.length === 1 ? "" : "s"} between them
            {diff.events.length > 0 && `: ${diff.events.map((e) => `${e.event_type} by ${e.actor_name ?? "the system"}`).join(", ")}`}.
          </p>
        </div>
      ))}
    </section>
  );
}

/**
 * An entity's History tab: its versions, oldest first, and its state as of an instant chosen
 * with a slider (or, to the second, a datetime-local input). `kind` is the live change that
 * reloads it.
 */
export function History({ resource, id, kind }: { resource: HistoryResource; id: string; kind: string }) {
  const { data, error } = useLive(() => get<HistoryAnswer>(`/${resource}/${id}/history?limit=1000`), [kind], [resource, id]);
  // None: now, following new versions as they come.
  const [at, setAt] = useState<number | null>(null);
  if (error) return <ErrorNote text={error} />;
  if (!data) return <Loading what="the history" />;
  const versions = data.versions;
  if (versions.length === 0) return <p className="empty">No recorded version.</p>;
  const now = Date.now();
  const { min, max } = span(versions, now);
  const instant = at ?? now;
  const shown = asOf(versions, instant);
  const current = shown.kind === "before" ? -1 : shown.index;
  const previous = current > 0 ? versions[current - 1].state : null;
  return (
    <div className="history">
      <section className="card" aria-label="State as of">
        <h3>State as of {at === null ? "now" : new Date(instant).toLocaleString()}</h3>
        <div className="as-of">
          <input
            type="range"
            aria-label="Time slider"
            min={min}
            max={max}
            step={1000}
            value={Math.min(Math.max(instant, min), max)}
            onChange={(e) => setAt(Number(e.target.value))}
          />
          <label className="inline-field">
            As of
            <input
              type="datetime-local"
              step="1"
              value={toLocalInput(instant)}
              onChange={(e) => {
                const ms = fromLocalInput(e.target.value);
                if (ms !== null) setAt(ms);
              }}
            />
          </label>
          <button type="button" className="secondary small" onClick={() => setAt(null)} disabled={at === null}>Now</button>
        </div>
        {shown.kind === "before" ? (
          <p className="empty" data-testid="as-of-state">Not yet created at this instant.</p>
        ) : shown.kind === "removed" ? (
          <p className="empty" data-testid="as-of-state">Removed at this instant{shown.version.summary ? ` (${shown.version.summary})` : ""}.</p>
        ) : (
          <div className="scroll" data-testid="as-of-state" data-sequence={shown.version.sequence}>
            <table>
              <thead><tr><th>Field</th><th>Value</th></tr></thead>
              <tbody>
                {fieldRows(shown.state, previous, shown.version.changed).map((r) => (
                  <tr key={r.field} data-field={r.field} className={r.changed ? "highlight" : undefined}>
                    <td><code>{r.field}</code></td>
                    <td className="wrap">
                      <span className="value">{r.value}</span>
                      {r.before !== undefined && <div className="muted small">was {r.before}</div>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <Compare resource={resource} id={id} from={min} />
      <section aria-label="Versions">
        <h3>Versions ({versions.length})</h3>
        {data.more && <p className="muted">The newest 1,000 versions; the audit trail lists every event.</p>}
        <div className="scroll">
          <table className="stack">
            <thead><tr><th>#</th><th>From</th><th>Actor</th><th>Event</th><th>Changed</th><th><span className="sr">Show</span></th></tr></thead>
            <tbody>
              {versions.map((v, i) => (
                <tr key={v.sequence} data-sequence={v.sequence} className={i === current ? "highlight" : undefined}>
                  <td className="num" data-label="#">{v.sequence}</td>
                  <td className="nowrap" data-label="From" title={v.valid_from}>{new Date(v.valid_from).toLocaleString()}</td>
                  <td data-label="Actor">{v.actor_name ?? "–"}{v.actor_kind && <div className="muted small">{v.actor_kind}</div>}</td>
                  <td data-label="Event"><code>{v.event_type}</code><div className="muted small">{v.summary}</div></td>
                  <td data-label="Changed">{v.changed.length > 0 ? v.changed.join(", ") : <span className="muted">–</span>}</td>
                  <td className="actions">
                    <button className="secondary small" onClick={() => setAt(new Date(v.valid_from).getTime())}>Show</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}
