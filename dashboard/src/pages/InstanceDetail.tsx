import { get } from "../api/client";
import type { Collector, Instance } from "../api/types";
import { History } from "../components/History";
import { ErrorNote, Loading, StatusBadge, Tabs } from "../components/ui";
import { useHash } from "../hooks/useHash";
import { useLive } from "../hooks/useLive";
import type { PageProps } from "../router";
import { hashQuery } from "./chartAlert";
import { Metrics } from "./instance/Metrics";

export function InstanceDetail({ params }: PageProps) {
  const id = params.id;
  const instance = useLive(() => get<Instance>(`/managed-instances/${id}`), ["managed_instance"], [id]);
  const collectors = useLive(() => get<Collector[]>("/collectors"), ["collector"]);
  const tab = new URLSearchParams(hashQuery(useHash())).get("tab") === "history" ? "history" : "metrics";
  if (instance.error) return <ErrorNote text={instance.error} />;
  if (!instance.data) return <Loading what="the instance" />;
  const i = instance.data;
  const collector = collectors.data?.find((c) => c.last_instance === i.name);
  return (
    <>
      <p><a href="#/instances">← Managed Instances</a></p>
      <div className="title">
        <h1>{i.name}</h1>
        <StatusBadge status={i.last_connection_status} />
      </div>
      <p className="muted">
        {i.host}:{i.port}/{i.database} ·{" "}
        {collector ? <>collector <a href={`#/collectors/${collector.id}`}>{collector.name}</a></> : "no collector reports this instance yet (its target name must be the instance's name)"}
      </p>
      <Tabs
        label="Instance views"
        current={tab}
        tabs={[["metrics", "Metrics", `#/instances/${id}`], ["history", "History", `#/instances/${id}?tab=history`]]}
      />
      {tab === "history" ? <History resource="managed-instances" id={id} kind="managed_instance" /> : <Metrics i={i} collector={collector} />}
    </>
  );
}
