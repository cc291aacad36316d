import { useState } from "react";
import { api, get } from "../api/client";
import { message } from "../api/errors";
import type { Instance, RegistrationSecret } from "../api/types";
import { ActionButton, ErrorNote, Loading } from "../components/ui";
import { useLive } from "../hooks/useLive";
import { ago, usage } from "../lib/format";
import { secretBody } from "./secretForm";

export function Secrets() {
  const { data, error, reload } = useLive(() => get<RegistrationSecret[]>("/registration-secrets"), ["registration_secret"]);
  const [name, setName] = useState("");
  const [max, setMax] = useState("");
  const [days, setDays] = useState("");
  const instances = useLive(() => get<Instance[]>("/managed-instances"), ["managed_instance"]).data ?? [];
  const [bound, setBound] = useState<string[]>([]);
  const nameOf = (id: string) => instances.find((i) => i.id === id)?.name ?? id;
  const [created, setCreated] = useState<RegistrationSecret | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  return (
    <>
      <h1>Registration Secrets</h1>
      <form
        className="card form"
        aria-label="New registration secret"
        onSubmit={async (e) => {
          e.preventDefault();
          setFormError(null);
          try {
            setCreated(await api<RegistrationSecret>("POST", "/registration-secrets", secretBody(name, max, days, bound)));
            setCopied(false);
            setName("");
            setBound([]);
            reload();
          } catch (err) {
            setFormError(message(err));
          }
        }}
      >
        <h2>New secret</h2>
        <div className="grid">
          <label>Name<input value={name} onChange={(e) => setName(e.target.value)} required placeholder="eu-west collectors" /></label>
          <label>Most registrations<input value={max} onChange={(e) => setMax(e.target.value)} inputMode="numeric" placeholder="unlimited" /></label>
          <label>Expires in days<input value={days} onChange={(e) => setDays(e.target.value)} inputMode="numeric" placeholder="never" /></label>
          <label>
            Instances its collectors may report
            <select multiple value={bound} onChange={(e) => setBound(Array.from(e.target.selectedOptions, (o) => o.value))}>
              {instances.map((i) => <option key={i.id} value={i.id}>{i.name}</option>)}
            </select>
          </label>
        </div>
        <ErrorNote text={formError} />
        <button type="submit">Create secret</button>
      </form>
      {created?.secret && (
        <section className="card reveal" role="status" aria-label="New secret">
          <p><strong>Copy this secret now: it is shown only once.</strong></p>
          <code data-testid="new-secret">{created.secret}</code>{" "}
          <button
            onClick={async () => {
              try {
                await navigator.clipboard.writeText(created.secret ?? "");
                setCopied(true);
              } catch {
                setFormError("The browser refused the clipboard: select the secret and copy it.");
              }
            }}
          >
            {copied ? "Copied" : "Copy"}
          </button>
        </section>
      )}
      <ErrorNote text={error} />
      {data === null ? <Loading what="secrets" /> : data.length === 0 ? <p className="empty">No registration secrets yet.</p> : (
        <div className="scroll">
          <table>
            <thead><tr><th>Name</th><th>Prefix</th><th>Instances</th><th>State</th><th>Used</th><th>Expires</th><th>Last used</th><th><span className="sr">Actions</span></th></tr></thead>
            <tbody>
              {data.map((s) => (
                <tr key={s.id}>
                  <td>{s.name}</td>
                  <td><code>{s.prefix}…</code></td>
                  <td>{s.instance_ids.length ? s.instance_ids.map(nameOf).join(", ") : <span className="muted">none</span>}</td>
                  <td><span className={`badge ${s.active ? "active" : "inactive"}`}>{s.active ? "active" : "deactivated"}</span></td>
                  <td>{usage(s.registrations_used, s.max_registrations)}</td>
                  <td>{s.expires_at ? new Date(s.expires_at).toLocaleString() : "never"}</td>
                  <td>{ago(s.last_used_at)}</td>
                  <td className="actions">
                    {s.active && (
                      <ActionButton
                        label="Deactivate"
                        className="danger"
                        run={() => api("PUT", `/registration-secrets/${s.id}`, { active: false }).then(reload)}
                        onError={setFormError}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
