// A managed instance's page: its views as tabs (the tab, the time range and each view's own keys
// live in the URL's query, so any view can be linked to), the range picker above the views that
// read a range. Each view takes the same ViewProps (instance/props.ts).
import { useMemo, type ComponentType } from "react";
import { get } from "../api/client";
import type { Collector, Instance } from "../api/types";
import { History } from "../components/History";
import { RangePicker } from "../components/RangePicker";
import { ErrorNote, Loading, StatusBadge, Tabs } from "../components/ui";
import { useHash } from "../hooks/useHash";
import { useLive } from "../hooks/useLive";
import { rangeOf, withRange } from "../lib/timeRange";
import type { PageProps } from "../router";
import { hashQuery } from "./chartAlert";
import { Activity } from "./instance/Activity";
import { Host } from "./instance/Host";
import { Metrics } from "./instance/Metrics";
import type { ViewProps } from "./instance/props";
import { Replication } from "./instance/Replication";
import { reporters } from "./instance/reporters";
import { Statements } from "./instance/Statements";
import { Tables } from "./instance/Tables";
import { tabOf, tabQuery, type Tab } from "./instance/tabs";

/**
 * The tabs (in tabs.ts's order): key, title, view, whether it reads the time range. Activity and
 * Tables show the latest collection: a range picker above them would pretend otherwise.
 */
const VIEWS: [Tab, string, ComponentType<ViewProps> | null, boolean][] = [
  ["metrics", "Metrics", Metrics, true],
  ["activity", "Activity", Activity, false],
  ["tables", "Tables", Tables, false],
  ["replication", "Replication", Replication, true],
  ["host", "Host", Host, true],
  ["statements", "Statements", Statements, true],
  ["history", "History", null, false],
];

export function InstanceDetail({ params }: PageProps) {
  const id = params.id;
  const instance = useLive(() => get<Instance>(`/managed-instances/${id}`), ["managed_instance"], [id]);
  const collectors = useLive(() => get<Collector[]>("/collectors"), ["collector"]);
  const qs = hashQuery(useHash());
  const query = useMemo(() => new URLSearchParams(qs), [qs]);
  // Resolved once per URL: a moving window's views compute "now" again when they reload.
  const range = useMemo(() => rangeOf(query), [query]);
  const tab = tabOf(query);
  const href = (q: URLSearchParams) => `#/instances/${id}${q.toString() ? `?${q}` : ""}`;
  const setQuery = (next: URLSearchParams) => { window.location.hash = href(next); };
  const setRange = (r: string | { from: number; to: number }) => setQuery(withRange(query, r));
  if (instance.error) return <ErrorNote text={instance.error} />;
  if (!instance.data) return <Loading what="the instance" />;
  const i = instance.data;
  const bound = reporters(collectors.data ?? [], i);
  const collector = bound[0];
  const [, , View, ranged] = VIEWS.find(([k]) => k === tab)!;
  const props: ViewProps = { i, collector, range, setRange, query, setQuery };
  return (
    <>
      <p><a href="#/instances">← Managed Instances</a></p>
      <div className="title">
        <h1>{i.name}</h1>
        <StatusBadge status={i.last_connection_status} />
      </div>
      <p className="muted">
        {i.host}:{i.port}/{i.database} ·{" "}
        {bound.length === 0 ? "no collector reports this instance yet (its target name must be the instance's name)" : (
          <>collector{bound.length > 1 ? "s" : ""} {bound.map((c, n) => <span key={c.id}>{n > 0 && ", "}<a href={`#/collectors/${c.id}`}>{c.name}</a></span>)}</>
        )}
      </p>
      <Tabs label="Instance views" current={tab} tabs={VIEWS.map(([key, title]) => [key, title, href(tabQuery(query, key))])} />
      {ranged && <RangePicker range={range} setRange={setRange} />}
      {!View ? <History resource="managed-instances" id={id} kind="managed_instance" /> : <View key={tab} {...props} />}
    </>
  );
}
