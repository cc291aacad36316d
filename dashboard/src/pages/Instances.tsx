import { useState } from "react";
import { api, can, get } from "../api";
import { ActionButton, ago, ErrorNote, Loading, message, useLive } from "../util";
import type { Instance } from "./types";
import { statusText } from "./types";

interface TestResult {
  success: boolean;
  status: string;
  latency_ms: number | null;
  server_version: string | null;
  error: string | null;
}

interface FormValue {
  name: string;
  host: string;
  port: string;
  database: string;
  username: string;
  password: string;
  sslmode: string;
  tags: string;
}

const EMPTY: FormValue = { name: "", host: "", port: "5432", database: "postgres", username: "", password: "", sslmode: "prefer", tags: "" };

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
        const body: Record<string, unknown> = {
          name: v.name,
          host: v.host,
          port: Number(v.port),
          database: v.database,
          username: v.username,
          sslmode: v.sslmode,
          tags: v.tags.split(",").map((t) => t.trim()).filter(Boolean),
        };
        if (v.password || !editing) body.password = v.password || null;
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
        <span className={`badge ${status}`} data-testid="status">{statusText(status)}</span>
        {status !== "connected" && i.last_error && !note && <div className="muted small">{i.last_error}</div>}
        {note && <div className={note.ok ? "ok small" : "error small"} role="status">{note.text}</div>}
      </td>
      <td className="muted">{i.last_tested_at ? ago(i.last_tested_at) : "never"}</td>
      <td className="actions">
        {can("editor") && (
          <>
            <button
              disabled={testing}
              onClick={async () => {
                setTesting(true);
                setNote(null);
                try {
                  const r = await api<TestResult>("POST", `/managed-instances/${i.id}/test-connection`);
                  setShown(r.status);
                  setNote(r.success
                    ? { ok: true, text: `Connection successful (${Math.round(r.latency_ms ?? 0)} ms${r.server_version ? `, PostgreSQL ${r.server_version}` : ""})` }
                    : { ok: false, text: r.error ?? statusText(r.status) });
                } catch (e) {
                  setNote({ ok: false, text: message(e) });
                } finally {
                  setTesting(false);
                }
              }}
            >
              {testing ? "Testing…" : "Test Connection"}
            </button>
            <button className="secondary" onClick={onEdit}>Edit</button>
            <ActionButton
              label="Remove"
              className="danger"
              confirm={`Remove the managed instance ${i.name}?`}
              run={() => api("DELETE", `/managed-instances/${i.id}`)}
              onError={(text) => setNote(text ? { ok: false, text } : null)}
            />
          </>
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
        {can("editor") && !form && <button onClick={() => setForm({})}>Add instance</button>}
      </div>
      {form && (
        <InstanceForm
          key={form.editing?.id ?? "new"}
          editing={form.editing}
          initial={form.editing ? {
            name: form.editing.name, host: form.editing.host, port: String(form.editing.port), database: form.editing.database,
            username: form.editing.username, password: "", sslmode: form.editing.sslmode, tags: form.editing.tags.join(", "),
          } : EMPTY}
          onDone={done}
        />
      )}
      <ErrorNote text={error} />
      {data === null ? <Loading what="instances" /> : data.length === 0 ? (
        <p className="empty">No managed instances yet.{can("editor") ? " Add the PostgreSQL servers you look after." : ""}</p>
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
