import { useState } from "react";
import { api, get, may } from "../api/client";
import { message } from "../api/errors";
import { SEVERITIES, type Channel, type ChannelList, type DeliveryList } from "../api/alerting";
import { ActionButton, ErrorNote, Loading } from "../components/ui";
import { useLive } from "../hooks/useLive";
import { ago } from "../lib/format";
import { channelSpec, channelTarget, EMPTY_CHANNEL, withEnabled, type ChannelForm } from "./channelForm";

function NewChannel({ onDone }: { onDone: () => void }) {
  const [v, setV] = useState(EMPTY_CHANNEL);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof ChannelForm) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setV({ ...v, [k]: e.target.value });
  return (
    <form
      className="card form"
      aria-label="New notification channel"
      onSubmit={async (e) => {
        e.preventDefault();
        const spec = channelSpec(v);
        if (typeof spec === "string") return setError(spec);
        setBusy(true);
        setError(null);
        try {
          await api("POST", "/notification-channels", spec);
          setV(EMPTY_CHANNEL);
          onDone();
        } catch (err) {
          setError(message(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>New channel</h2>
      <div className="grid">
        <label>Name<input value={v.name} onChange={set("name")} required /></label>
        <label>
          Kind
          <select value={v.kind} onChange={set("kind")}>
            <option value="webhook">webhook</option>
            <option value="alertmanager">Alertmanager</option>
            <option value="email">email</option>
          </select>
        </label>
        <label>
          Least severity
          <select value={v.min_severity} onChange={set("min_severity")}>
            {SEVERITIES.map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
      </div>
      {v.kind !== "email" ? (
        <div className="grid">
          <label>URL<input value={v.url} onChange={set("url")} inputMode="url" placeholder={v.kind === "alertmanager" ? "http://alertmanager:9093" : "https://hooks.example.com/pga"} required /></label>
          {v.kind === "webhook" && (
            <label>Signing secret (HMAC key)<input type="password" value={v.secret} onChange={set("secret")} autoComplete="new-password" /></label>
          )}
        </div>
      ) : (
        <div className="grid">
          <label>SMTP host<input value={v.host} onChange={set("host")} required /></label>
          <label>Port<input value={v.port} onChange={set("port")} inputMode="numeric" /></label>
          <label>
            TLS
            <select value={v.tls} onChange={set("tls")}>
              <option value="starttls">STARTTLS</option><option value="tls">TLS</option><option value="none">none</option>
            </select>
          </label>
          <label>From<input value={v.from} onChange={set("from")} inputMode="email" placeholder="pganalytics@example.com" /></label>
          <label>To<input value={v.to} onChange={set("to")} placeholder="dba@example.com, oncall@example.com" /></label>
          <label>SMTP username<input value={v.username} onChange={set("username")} autoComplete="off" /></label>
          <label>SMTP password<input type="password" value={v.password} onChange={set("password")} autoComplete="new-password" /></label>
        </div>
      )}
      <p className="muted small">Secrets and passwords are stored encrypted and never shown again.</p>
      <ErrorNote text={error} />
      <div className="actions"><button type="submit" disabled={busy}>Create channel</button></div>
    </form>
  );
}

function ChannelRow({ c, reload, setNote }: { c: Channel; reload: () => void; setNote: (t: string | null) => void }) {
  return (
    <tr>
      <td>{c.name}</td>
      <td>{c.kind}</td>
      <td className="wrap">{channelTarget(c)}{c.has_secret && <div className="muted small">secret stored</div>}</td>
      <td>{c.min_severity} and above</td>
      <td><span className={`badge ${c.enabled ? "active" : "inactive"}`}>{c.enabled ? "enabled" : "disabled"}</span></td>
      <td className="actions">
        {may("editChannel") && (
          <ActionButton
            label={c.enabled ? "Disable" : "Enable"}
            className="secondary"
            run={() => api("PUT", `/notification-channels/${c.id}`, withEnabled(c, !c.enabled)).then(reload)}
            onError={setNote}
          />
        )}
        {may("deleteChannel") && (
          <ActionButton
            label="Delete"
            className="danger"
            confirm={`Delete the channel ${c.name}?`}
            run={() => api("DELETE", `/notification-channels/${c.id}`).then(reload)}
            onError={setNote}
          />
        )}
      </td>
    </tr>
  );
}

/** Notification channels (admin) and the latest deliveries to them. */
export function Notifications() {
  const channels = useLive(() => get<ChannelList>("/notification-channels"), ["notification_channel"]);
  const deliveries = useLive(() => get<DeliveryList>("/notifications?limit=100"), ["notification_channel", "alert"]);
  const [note, setNote] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <>
      <h1>Notifications</h1>
      {may("createChannel") && <NewChannel onDone={channels.reload} />}
      <section aria-label="Channels">
        <h2>Channels</h2>
        <ErrorNote text={channels.error ?? note} />
        {channels.data === null ? <Loading what="channels" /> : channels.data.channels.length === 0 ? (
          <p className="empty">No channels: alerts show on the dashboard only.</p>
        ) : (
          <div className="scroll">
            <table>
              <thead><tr><th>Name</th><th>Kind</th><th>Sends to</th><th>Severity</th><th>State</th><th><span className="sr">Actions</span></th></tr></thead>
              <tbody>{channels.data.channels.map((c) => <ChannelRow key={c.id} c={c} reload={channels.reload} setNote={setNote} />)}</tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-label="Deliveries">
        <div className="title">
          <h2>Recent deliveries</h2>
          <button className="secondary small" onClick={deliveries.reload}>Refresh</button>
        </div>
        <ErrorNote text={deliveries.error} />
        {deliveries.data === null ? <Loading what="deliveries" /> : deliveries.data.notifications.length === 0 ? (
          <p className="empty">Nothing sent yet.</p>
        ) : (
          <div className="scroll">
            <table>
              <thead><tr><th>Created</th><th>Channel</th><th>Alert</th><th>Kind</th><th>Status</th><th>Attempts</th><th>Last error</th></tr></thead>
              <tbody>
                {deliveries.data.notifications.flatMap((d) => [
                  <tr key={d.id}>
                    <td title={d.created_at}>{ago(d.created_at)}</td>
                    <td>{d.channel_name}</td>
                    <td><a href={`#/alerts/${d.alert_id}`}>alert</a></td>
                    <td>{d.kind}</td>
                    <td>
                      <span className={`badge ${d.status}`}>{d.status}</span>
                      {d.status === "delivered" && d.delivered_at && <div className="muted small">{ago(d.delivered_at)}</div>}
                      {d.status === "pending" && d.next_attempt_at && <div className="muted small">next {new Date(d.next_attempt_at).toLocaleTimeString()}</div>}
                    </td>
                    <td>
                      {d.history.length > 0 ? (
                        <button className="link-inline" aria-expanded={open === d.id} onClick={() => setOpen(open === d.id ? null : d.id)}>
                          {d.attempts}
                        </button>
                      ) : d.attempts}
                    </td>
                    <td className="wrap">{d.last_error ?? ""}</td>
                  </tr>,
                  open === d.id && (
                    <tr key={`${d.id}-history`}>
                      <td colSpan={7}>
                        <ul className="plain small">
                          {d.history.map((h) => (
                            <li key={h.attempt}>#{h.attempt} {new Date(h.at).toLocaleString()} · {h.outcome}{h.detail ? ` · ${h.detail}` : ""}</li>
                          ))}
                        </ul>
                      </td>
                    </tr>
                  ),
                ])}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
