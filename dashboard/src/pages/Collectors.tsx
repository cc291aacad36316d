import { useState } from "react";
import { api, get, may } from "../api/client";
import type { Collector } from "../api/types";
import { ActionButton, ErrorNote, Loading } from "../components/ui";
import { useLive } from "../hooks/useLive";
import { useTick } from "../hooks/useTick";
import { ago, num, refusedText } from "../lib/format";

export function Collectors() {
  const { data, error, reload } = useLive(() => get<Collector[]>("/collectors"), ["collector"]);
  const [note, setNote] = useState<string | null>(null);
  useTick(1000);
  return (
    <>
      <h1>Active Collectors</h1>
      <ErrorNote text={error ?? note} />
      {data === null ? <Loading what="collectors" /> : data.length === 0 ? (
        <p className="empty">No collectors registered. {may("createSecret") ? <>Create a <a href="#/secrets">registration secret</a> and start <code>pganalytics-collector</code> with it.</> : null}</p>
      ) : (
        <div className="scroll">
          <table>
            <thead>
              <tr><th>Name</th><th>Host</th><th>Status</th><th>Last heartbeat</th><th>Data points</th><th>Last 24 h</th><th><span className="sr">Actions</span></th></tr>
            </thead>
            <tbody>
              {data.map((c) => (
                <tr key={c.id} data-collector={c.id}>
                  <td><a href={`#/collectors/${c.id}`}>{c.name}</a><div className="muted small">{c.version}</div></td>
                  <td>{c.hostname}{c.last_instance && <div className="muted small">{c.last_instance}</div>}</td>
                  <td>
                    <span className={`badge ${c.status}`}>{c.status}</span>
                    {c.rejected_batches > 0 && (
                      <div className="muted small" data-testid="rejected" title={c.last_rejected_reason ?? ""}>
                        {refusedText(c.rejected_batches, c.last_rejected_reason)}
                      </div>
                    )}
                  </td>
                  <td data-testid="heartbeat" data-last-seen={c.last_seen ?? ""} title={c.last_seen ?? ""}>{ago(c.last_seen)}</td>
                  <td>{num(c.metrics_count_total)}</td>
                  <td>{num(c.metrics_count_24h)}</td>
                  <td className="actions">
                    {may("deleteCollector") && (
                      <ActionButton
                        label="Delete"
                        className="danger"
                        confirm={`Delete the collector ${c.name}? Its token stops working at once.`}
                        run={() => api("DELETE", `/collectors/${c.id}`).then(reload)}
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
