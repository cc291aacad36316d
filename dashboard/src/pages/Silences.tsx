import { useState } from "react";
import { api, get, may } from "../api/client";
import type { SilenceList } from "../api/alerting";
import { ActionButton, ErrorNote, Loading } from "../components/ui";
import { useLive } from "../hooks/useLive";
import { SilenceForm } from "./alertForms";
import { matchersText } from "./silenceForm";

/** Silences, active and recently expired; an editor adds and expires them. */
export function Silences() {
  const { data, error, reload } = useLive(() => get<SilenceList>("/silences"), ["silence"]);
  const [adding, setAdding] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const silences = data ? [...data.silences].sort((a, b) => Number(b.active) - Number(a.active) || Date.parse(b.ends_at) - Date.parse(a.ends_at)) : null;
  return (
    <>
      <div className="title">
        <h1>Silences</h1>
        {may("createSilence") && !adding && <button onClick={() => setAdding(true)}>New silence</button>}
      </div>
      {adding && (
        <SilenceForm
          title="New silence"
          initial={[{ name: "alertname", op: "=", value: "" }]}
          onDone={() => {
            setAdding(false);
            reload();
          }}
        />
      )}
      <ErrorNote text={error ?? note} />
      {silences === null ? <Loading what="silences" /> : silences.length === 0 ? (
        <p className="empty">No silences. Silence an alert from the <a href="#/alerts">alerts page</a>.</p>
      ) : (
        <div className="scroll">
          <table className="stack">
            <thead><tr><th>Matchers</th><th>State</th><th>From</th><th>Until</th><th>Comment</th><th>By</th><th><span className="sr">Actions</span></th></tr></thead>
            <tbody>
              {silences.map((s) => (
                <tr key={s.id}>
                  <td data-label="Matchers"><code>{matchersText(s.matchers)}</code></td>
                  <td data-label="State"><span className={`badge ${s.active ? "active" : "inactive"}`}>{s.active ? "active" : "expired"}</span></td>
                  <td data-label="From">{new Date(s.starts_at).toLocaleString()}</td>
                  <td data-label="Until">{new Date(s.ends_at).toLocaleString()}</td>
                  <td data-label="Comment">{s.comment || <span className="muted">–</span>}</td>
                  <td data-label="By">{s.created_by}</td>
                  <td className="actions">
                    {s.active && may("expireSilence") && (
                      <ActionButton
                        label="Expire"
                        className="danger"
                        confirm="Expire this silence now? Matching alerts notify again."
                        run={() => api("DELETE", `/silences/${s.id}`).then(reload)}
                        onError={setNote}
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
