import { useState } from "react";
import { api, get, may } from "../api/client";
import { message } from "../api/errors";
import type { ConnectionTestResult, Instance } from "../api/types";
import { ActionButton, ErrorNote, Loading, StatusBadge } from "../components/ui";
import { useLive } from "../hooks/useLive";
import { ago, connectionTestNote } from "../lib/format";
import { bodyOf, EMPTY, formOf, type FormValue } from "./instanceForm";

function InstanceForm({ initial, editing, onDone }: { initial: FormValue; editing?: Instance; onDone: () => void }) {
  const [v, setV] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof FormValue) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setV({ ...v, [k]: e.target.value });
  return (
    <form
      className="card form"
      aria-label={editing ? `Edit ${editing.name}` : "Add instance"}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        const body = bodyOf(v, !!editing);
        try {
          if (editing) await api("PUT", `/managed-instances/${editing.id}`, body);
          else await api("POST", "/managed-instances", body);
          onDone();
        } catch (err) {
          setError(message(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>{editing ? `Edit ${editing.name}` : "Add a managed instance"}</h2>
      <div className="grid">
        <label>Name<input value={v.name} onChange={set("name")} required /></label>
        <label>Host<input value={v.host} onChange={set("host")} required /></label>
        <label>Port<input value={v.port} onChange={set("port")} inputMode="numeric" required /></label>
        <label>Database<input value={v.database} onChange={set("database")} required /></label>
        <label>Username<input value={v.username} onChange={set("username")} required /></label>
        <label>
          Password
          <input type="password" value={v.password} onChange={set("password")} autoComplete="new-password" placeholder={editing?.has_password ? "(unchanged)" : ""} />
        </label>
        <label>
          SSL mode
          <select value={v.sslmode} onChange={set("sslmode")}>
            {["disable", "prefer", "require", "verify-ca", "verify-full"].map((m) => <option key={m}>{m}</option>)}
          </select>
        </label>
        <label>Tags<input value={v.tags} onChange={set("tags")} placeholder="prod, eu" /></label>
      </div>
      <ErrorNote text={error} />
      <div className="actions">
        <button type="submit" disabled={busy}>{editing ? "Save" : "Add instance"}</button>
        <button type="button" className="secondary" onClick={onDone}>Cancel</button>
      </div>
    </form>
  );
}

function Row({ i, onEdit }: { i: Instance; onEdit: () => void }) {
  const [testing, setTesting] = useState(false);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [shown, setShown] = useState<string | null>(null);
  const status = shown ?? i.last_connection_status;
  return (
    <tr>
      <td><a href={`#/instances/${i.id}`}>{i.name}</a>{i.tags.length > 0 && <div className="tags">{i.tags.join(", ")}</div>}</td>
      <td>{i.host}:{i.port}/{i.database}<div className="muted">{i.username} · {i.sslmode}</div></td>
      <td>
        <StatusBadge status={status} testId="status" />
        {status !== "connected" && i.last_error && !note && <div className="muted small">{i.last_error}</div>}
        {note && <div className={note.ok ? "ok small" : "error small"} role="status">{note.text}</div>}
      </td>
      <td className="muted">{i.last_tested_at ? ago(i.last_tested_at) : "never"}</td>
      <td className="actions">
        {may("testConnection") && (
          <button
            disabled={testing}
            onClick={async () => {
              setTesting(true);
              setNote(null);
              try {
                const r = await api<ConnectionTestResult>("POST", `/managed-instances/${i.id}/test-connection`);
                setShown(r.status);
                setNote(connectionTestNote(r));
              } catch (e) {
                setNote({ ok: false, text: message(e) });
              } finally {
                setTesting(false);
              }
            }}
          >
            {testing ? "Testing…" : "Test Connection"}
          </button>
        )}
        {may("editInstance") && <button className="secondary" onClick={onEdit}>Edit</button>}
        {may("removeInstance") && (
          <ActionButton
            label="Remove"
            className="danger"
            confirm={`Remove the managed instance ${i.name}?`}
            run={() => api("DELETE", `/managed-instances/${i.id}`)}
            onError={(text) => setNote(text ? { ok: false, text } : null)}
          />
        )}
      </td>
    </tr>
  );
}

export function Instances() {
  const { data, error, reload } = useLive(() => get<Instance[]>("/managed-instances"), ["managed_instance"]);
  const [form, setForm] = useState<{ editing?: Instance } | null>(null);
  const done = () => {
    setForm(null);
    reload();
  };
  return (
    <>
      <div className="title">
        <h1>Managed Instances</h1>
        {may("addInstance") && !form && <button onClick={() => setForm({})}>Add instance</button>}
      </div>
      {form && (
        <InstanceForm
          key={form.editing?.id ?? "new"}
          editing={form.editing}
          initial={form.editing ? formOf(form.editing) : EMPTY}
          onDone={done}
        />
      )}
      <ErrorNote text={error} />
      {data === null ? <Loading what="instances" /> : data.length === 0 ? (
        <p className="empty">No managed instances yet.{may("addInstance") ? " Add the PostgreSQL servers you look after." : ""}</p>
      ) : (
        <div className="scroll">
          <table>
            <thead><tr><th>Name</th><th>Connection</th><th>Status</th><th>Last tested</th><th><span className="sr">Actions</span></th></tr></thead>
            <tbody>{data.map((i) => <Row key={i.id} i={i} onEdit={() => setForm({ editing: i })} />)}</tbody>
          </table>
        </div>
      )}
    </>
  );
}
