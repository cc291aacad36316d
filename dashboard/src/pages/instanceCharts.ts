// The Metrics tab's charts: which series each draws, how it is combined on the server (the
// instance total, the top 5 groups and the rest as "others", or picked databases) and in which
// unit. `loadChart` asks the API through the function it is given, so the plan is tested without
// a server in instanceCharts.test.ts.
import { linesOf, ratioLines, scaled, shownGroups, type Group, type GroupedAnswer, type Line } from "../components/chartData";
import type { Unit } from "../lib/units";

/** How a chart draws its objects: their total, the top N and the rest, or the picked ones. */
export type Mode = "total" | "top" | "pick";

/** How many groups "Top" shows as their own lines (plus one "others" line). */
export const TOP_N = 5;

/** One `/metrics/series` request. */
export interface SeriesQuery {
  metric: string;
  fn: "raw" | "rate";
  agg?: "sum" | "max" | "avg";
  group?: string;
  top?: number;
  pick?: string[];
}

/** A metric a chart draws. */
interface Part {
  metric: string;
  fn: "raw" | "rate";
  /** How series combine: sizes and rates add up, a lag is the worst replica's. */
  agg: "sum" | "max";
  /** In the total view, one line per value of this label (connections by state). */
  totalBy?: string;
  /** The total line's name (per part when a chart draws two metrics). */
  name: string;
}

export type ChartKey = "tps" | "connections" | "hit" | "size" | "lag" | "checkpoints" | "wal" | "temp" | "deadlocks";

export interface ChartDef {
  key: ChartKey;
  title: string;
  unit: Unit | string;
  /** The label the top and picked views group by; absent: the chart shows its total only. */
  by?: "database" | "application_name";
  /** What "Top" groups are called in the view selector. */
  things?: string;
  /** The metrics drawn: in the total view each as its own line(s); grouped, only the first. */
  parts: Part[];
  /** Draw `parts[0] / (parts[0] + parts[1])` in percent instead of the parts. */
  ratio?: boolean;
  /** Multiplies each value (per-second rates shown per minute: 60). */
  scale?: number;
  /** What the chart says when the range has no data. */
  empty?: string;
}

const rate = (metric: string, name = "all databases"): Part => ({ metric, fn: "rate", agg: "sum", name });

/** The charts in the page's order. */
export const CHARTS: ChartDef[] = [
  {
    key: "tps", title: "Transactions per second", unit: "/s", by: "database", things: "databases",
    parts: [rate("pg_database_xact_commit_total")],
  },
  {
    key: "connections", title: "Connections by state", unit: "sessions", by: "database", things: "databases",
    parts: [{ metric: "pg_activity_connections", fn: "raw", agg: "sum", totalBy: "state", name: "all" }],
  },
  {
    key: "hit", title: "Cache hit ratio", unit: "%", by: "database", things: "databases", ratio: true,
    parts: [rate("pg_database_blks_hit_total"), rate("pg_database_blks_read_total")],
  },
  {
    key: "size", title: "Database size", unit: "bytes", by: "database", things: "databases",
    parts: [{ metric: "pg_database_size_bytes", fn: "raw", agg: "sum", name: "all databases" }],
  },
  {
    key: "wal", title: "WAL rate", unit: "bytes/s",
    parts: [{ metric: "pg_wal_lsn_bytes", fn: "rate", agg: "sum", name: "WAL written" }],
  },
  {
    key: "lag", title: "Replication lag", unit: "bytes", by: "application_name", things: "replicas",
    parts: [{ metric: "pg_replication_lag_bytes", fn: "raw", agg: "max", name: "largest" }],
    empty: "No replica in this range (no standby streams from this instance).",
  },
  {
    key: "checkpoints", title: "Checkpoints", unit: "/min", scale: 60,
    parts: [rate("pg_checkpoints_timed_total", "timed"), rate("pg_checkpoints_requested_total", "requested")],
  },
  {
    key: "temp", title: "Temp files written", unit: "bytes/s", by: "database", things: "databases",
    parts: [rate("pg_database_temp_bytes_total")],
  },
  {
    key: "deadlocks", title: "Deadlocks", unit: "/min", scale: 60, by: "database", things: "databases",
    parts: [rate("pg_database_deadlocks_total")],
  },
];

/** The modes a chart offers, with their names in its view selector. */
export function modesOf(def: ChartDef): [Mode, string][] {
  if (!def.by) return [];
  const modes: [Mode, string][] = [["total", def.by === "database" ? "Total" : "Largest"], ["top", `Top ${TOP_N} ${def.things}`]];
  if (def.by === "database") modes.push(["pick", "Picked databases"]);
  return modes;
}

/** The request for `part` in `mode` (`pick` empty: the top groups, for a first choice). */
export function queryOf(def: ChartDef, part: Part, mode: Mode, pick: string[]): SeriesQuery {
  const q: SeriesQuery = { metric: part.metric, fn: part.fn, agg: part.agg };
  if (mode === "total" || !def.by) return part.totalBy ? { ...q, group: part.totalBy } : q;
  if (mode === "pick" && pick.length > 0) return { ...q, group: def.by, pick };
  return { ...q, group: def.by, top: TOP_N };
}

/** What a chart draws: its lines, and every group there is to pick from (grouped views). */
export interface Drawn { lines: Line[]; groups: Group[] }

/** Loads and builds the lines of `def` in `mode`, asking the API through `series`. */
export async function loadChart(
  def: ChartDef, mode: Mode, pick: string[], series: (q: SeriesQuery) => Promise<GroupedAnswer>,
): Promise<Drawn> {
  const grouped = mode !== "total" && def.by !== undefined;
  const by = grouped ? def.by : undefined;
  const linesFor = (part: Part, a: GroupedAnswer) =>
    linesOf(a, by ?? part.totalBy, () => part.name);
  const k = def.scale ?? 1;
  if (def.ratio) {
    const [part, rest] = def.parts;
    if (!by) {
      const [a, b] = await Promise.all([series(queryOf(def, part, mode, pick)), series(queryOf(def, rest, mode, pick))]);
      return { lines: scaled(ratioLines(linesFor(part, a), linesFor(rest, b)), k), groups: [] };
    }
    const first = await series(queryOf(def, part, mode, pick));
    // The denominator of exactly the groups the first answer shows: its "others" then folds the
    // same groups as the first's.
    const shown = shownGroups(first, by);
    if (shown.length === 0) return { lines: [], groups: first.groups ?? [] };
    const { top: _top, ...rested } = queryOf(def, rest, mode, pick);
    const second = await series({ ...rested, pick: shown });
    return { lines: scaled(ratioLines(linesFor(part, first), linesFor(rest, second)), k), groups: first.groups ?? [] };
  }
  const parts = grouped ? def.parts.slice(0, 1) : def.parts;
  const answers = await Promise.all(parts.map((p) => series(queryOf(def, p, mode, pick))));
  const lines = parts.flatMap((p, i) => linesFor(p, answers[i]));
  return { lines: scaled(lines, k), groups: answers[0]?.groups ?? [] };
}

/** The query string of `q` for the instance `instance` over `from`..`to` (unix seconds). */
export function seriesParams(instance: string, q: SeriesQuery, from: number, to: number): URLSearchParams {
  const p = new URLSearchParams({ instance_id: instance, metric: q.metric, fn: q.fn, from: String(from), to: String(to) });
  if (q.agg) p.set("agg", q.agg);
  if (q.group) p.set("group", q.group);
  if (q.top !== undefined) p.set("top", String(q.top));
  if (q.pick !== undefined) p.set("pick", q.pick.join(","));
  return p;
}

/** The picked databases a page's query carries (`db=a,b`). */
export function pickedOf(q: URLSearchParams): string[] {
  return (q.get("db") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

/** `q` carrying `dbs` as the picked databases (none: no `db` key). */
export function withPicked(q: URLSearchParams, dbs: string[]): URLSearchParams {
  const next = new URLSearchParams(q);
  if (dbs.length > 0) next.set("db", dbs.join(","));
  else next.delete("db");
  return next;
}
