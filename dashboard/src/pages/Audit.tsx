import { useEffect, useRef, useState } from "react";
import { download, get } from "../api/client";
import { message } from "../api/errors";
import { AGGREGATE_TYPES, type AuditEntry } from "../api/history";
import type { User } from "../api/types";
import { ErrorNote, Loading } from "../components/ui";
import { useHash } from "../hooks/useHash";
import { fromLocalInput, toLocalInput } from "../lib/format";
import { dayOf, dayRange, exportName, filtersOf, NO_FILTERS, queryOf, resourceLink, type AuditFilters } from "./auditQuery";
import { hashQuery } from "./chartAlert";

const PAGE = 100;

/** An instant as the `datetime-local` inputs show it; "" for none. */
const local = (iso: string) => (iso ? toLocalInput(new Date(iso).getTime()) : "");
const instant = (value: string) => {
  const ms = fromLocalInput(value);
  return ms === null ? "" : new Date(ms).toISOString();
};

function Filters({ applied, users }: { applied: AuditFilters; users: string[] }) {
  // A draft until applied; the page remounts this form (its key) when the applied filters change.
  const [f, setF] = useState(applied);
  const set = (k: keyof AuditFilters) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setF({ ...f, [k]: e.target.value });
  const apply = (next: AuditFilters) => {
    const q = queryOf(next);
    window.location.hash = `#/audit${q ? `?${q}` : ""}`;
  };
  return (
    <form
      className="card form"
      aria-label="Audit filters"
      onSubmit={(e) => {
        e.preventDefault();
        apply(f);
      }}
    >
      <div className="grid">
        <label>
          User
          <input value={f.actor} onChange={set("actor")} list="audit-users" placeholder="any" />
          <datalist id="audit-users">{users.map((u) => <option key={u} value={u} />)}</datalist>
        </label>
        <label>
          Resource type
          <select value={f.aggregate_type} onChange={set("aggregate_type")}>
            <option value="">any</option>
            {AGGREGATE_TYPES.map((t) => <option key={t} value={t}>{t.replace(/_/g, " ")}</option>)}
          </select>
        </label>
        <label>Resource id<input value={f.aggregate_id} onChange={set("aggregate_id")} placeholder="any" /></label>
        <label>Kind<input value={f.event_type} onChange={set("event_type")} placeholder="e.g. InstanceUpdated" /></label>
        <label>
          One day
          <input
            type="date"
            value={dayOf(f)}
            onChange={(e) => {
              const day = dayRange(e.target.value);
              setF({ ...f, from: day?.from ?? "", to: day?.to ?? "" });
            }}
          />
        </label>
        <label>
          From
          <input type="datetime-local" step="1" value={local(f.from)} onChange={(e) => setF({ ...f, from: instant(e.target.value) })} />
        </label>
        <label>
          To
          <input type="datetime-local" step="1" value={local(f.to)} onChange={(e) => setF({ ...f, to: instant(e.target.value) })} />
        </label>
      </div>
      <div className="actions">
        <button type="submit">Apply</button>
        <button type="button" className="secondary" onClick={() => apply(NO_FILTERS)}>
          Clear
        </button>
      </div>
    </form>
  );
}

function Resource({ e }: { e: AuditEntry }) {
  const link = resourceLink(e.aggregate_type, e.aggregate_id);
  const id = <code className="chip">{e.aggregate_id}</code>;
  return (
    <>
      <div>{e.aggregate_type.replace(/_/g, " ")}</div>
      {link ? <a href={link}>{id}</a> : id}
    </>
  );
}

export function Audit() {
  const query = hashQuery(useHash());
  const filters = filtersOf(query);
  const key = queryOf(filters);
  const [rows, setRows] = useState<AuditEntry[] | null>(null);
  const [more, setMore] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [users, setUsers] = useState<string[]>([]);
  useEffect(() => {
    get<User[]>("/users").then((us) => setUsers(us.map((u) => u.username).sort())).catch(() => undefined);
  }, []);
  // Bumped when the filters change, so a page asked for under the old ones is dropped.
  const generation = useRef(0);
  const load = async (before: string | null) => {
    const mine = generation.current;
    setBusy(true);
    try {
      const page = await get<AuditEntry[]>(`/audit?${queryOf(filters, { limit: String(PAGE), ...(before ? { before } : {}) })}`);
      if (mine !== generation.current) return;
      setRows((old) => (before && old ? [...old, ...page] : page));
      setMore(page.length === PAGE);
      setError(null);
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    generation.current += 1;
    setRows(null);
    void load(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const exportAs = (format: "csv" | "jsonl") => async () => {
    try {
      await download(`/audit/export?${queryOf(filters, { format })}`, exportName(filters, format));
      setError(null);
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <>
      <div className="title">
        <h1>Audit trail</h1>
        <button className="secondary" onClick={exportAs("csv")}>CSV</button>
        <button className="secondary" onClick={exportAs("jsonl")}>JSON lines</button>
      </div>
      <Filters key={key} applied={filters} users={users} />
      <ErrorNote text={error} />
      {rows === null ? <Loading what="the audit trail" /> : rows.length === 0 ? (
        <p className="empty">No event matches.</p>
      ) : (
        <div className="scroll">
          <table className="stack" aria-label="Audit entries">
            <thead><tr><th>Time</th><th>Actor</th><th>Resource</th><th>Event</th><th>Summary</th></tr></thead>
            <tbody>
              {rows.map((e) => (
                <tr key={e.cursor} data-actor={e.actor_name ?? ""}>
                  <td className="nowrap" data-label="Time" title={e.recorded_at}>{new Date(e.recorded_at).toLocaleString()}</td>
                  <td data-label="Actor">{e.actor_name ?? "–"}{e.actor_kind && <div className="muted small">{e.actor_kind}</div>}</td>
                  <td data-label="Resource"><Resource e={e} /></td>
                  <td data-label="Event"><code>{e.event_type}</code></td>
                  <td className="wrap" data-label="Summary">{e.summary}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows !== null && (
        <p className="muted small">
          {rows.length} event{rows.length === 1 ? "" : "s"}{more ? " so far" : ""}.{" "}
          {more && (
            <button className="secondary small" disabled={busy} onClick={() => load(rows[rows.length - 1].cursor)}>
              {busy ? "Loading…" : "Load more"}
            </button>
          )}
        </p>
      )}
    </>
  );
}
