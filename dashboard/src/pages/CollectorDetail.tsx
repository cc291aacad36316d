import { get } from "../api/client";
import type { Collector, Instance } from "../api/types";
import { History } from "../components/History";
import { ErrorNote, Loading, Tabs } from "../components/ui";
import { useHash } from "../hooks/useHash";
import { useLive } from "../hooks/useLive";
import { useTick } from "../hooks/useTick";
import { ago, num, refusedText } from "../lib/format";
import type { PageProps } from "../router";
import { hashQuery } from "./chartAlert";

function Facts({ c, instances }: { c: Collector; instances: Instance[] }) {
  const nameOf = (id: string) => instances.find((i) => i.id === id)?.name ?? id;
  return (
    <dl className="facts card">
      <dt>Host</dt><dd>{c.hostname}</dd>
      <dt>Version</dt><dd>{c.version}</dd>
      <dt>Registered</dt><dd title={c.registered_at}>{new Date(c.registered_at).toLocaleString()}</dd>
      <dt>Last heartbeat</dt><dd title={c.last_seen ?? ""}>{ago(c.last_seen)}</dd>
      <dt>Last instance</dt><dd>{c.last_instance ?? "–"}</dd>
      <dt>May report</dt>
      <dd>
        {c.instance_ids.length === 0 ? <span className="muted">no managed instance</span> : c.instance_ids.map((id, n) => (
          <span key={id}>{n > 0 && ", "}<a href={`#/instances/${id}`}>{nameOf(id)}</a></span>
        ))}
      </dd>
      <dt>Data points</dt><dd>{num(c.metrics_count_total)} ({num(c.metrics_count_24h)} in the last 24 h)</dd>
      <dt>Batches</dt><dd>{num(c.batches_total)}{c.rejected_batches > 0 && <>, {refusedText(c.rejected_batches, c.last_rejected_reason)}</>}</dd>
    </dl>
  );
}

export function CollectorDetail({ params }: PageProps) {
  const id = params.id;
  const collector = useLive(() => get<Collector>(`/collectors/${id}`), ["collector", "collector_activity"], [id]);
  const instances = useLive(() => get<Instance[]>("/managed-instances"), ["managed_instance"]);
  const tab = new URLSearchParams(hashQuery(useHash())).get("tab") === "history" ? "history" : "facts";
  useTick(10000);
  const c = collector.data;
  return (
    <>
      <p><a href="#/collectors">← Active Collectors</a></p>
      <div className="title">
        <h1>{c?.name ?? "Collector"}</h1>
        {c && <span className={`badge ${c.status}`}>{c.status}</span>}
      </div>
      <Tabs
        label="Collector views"
        current={tab}
        tabs={[["facts", "Facts", `#/collectors/${id}`], ["history", "History", `#/collectors/${id}?tab=history`]]}
      />
      {tab === "history" ? <History resource="collectors" id={id} kind="collector" /> : (
        // A deleted collector is gone from GET /collectors/{id}; its history is still there.
        collector.error ? <ErrorNote text={collector.error} /> : !c ? <Loading what="the collector" /> : <Facts c={c} instances={instances.data ?? []} />
      )}
    </>
  );
}
