// The Metrics tab's charts: which series each draws, how it is combined on the server (the
// instance total, the top 5 groups and the rest as "others", or picked databases) and in which
// unit. `loadChart` asks the API through the function it is given, so the plan is tested without
// a server in instanceCharts.test.ts.
import type { LatestRow } from "../api/types";
import { linesOf, ratioLines, scaled, shownGroups, type Group, type GroupedAnswer, type Line } from "../components/chartData";
import type { Unit } from "../lib/units";

/** How a chart draws its objects: their total, the top N and the rest, or the picked ones. */
export type Mode = "total" | "top" | "pick";

/** How many groups "Top" shows as their own lines (plus one "others" line). */
export const TOP_N = 5;

/** The API takes at most this many picked groups (`pick=`; more is a 422). */
export const MAX_PICK = 20;

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
  by?: "database" | "client_addr";
  /** Grouped lines are named from this metric's latest label sets (see `replicaNames`). */
  namedBy?: string;
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
/**
 * An instance-wide counter's rate: one series per collector, so two collectors of one server
 * would double a sum; the larger of them is the server's.
 */
const serverRate = (metric: string, name: string): Part => ({ metric, fn: "rate", agg: "max", name });

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
    parts: [serverRate("pg_wal_lsn_bytes", "WAL written")],
  },
  {
    // By client address, not application_name: standbys that set none all report "walreceiver"
    // and would merge into one line. `group=` takes one label, so the names come from the latest
    // label sets of the same metric, which carry both (the line reads "walreceiver (10.0.0.5)").
    key: "lag", title: "Replication lag", unit: "bytes", by: "client_addr", things: "replicas", namedBy: "pg_replication_lag_bytes",
    parts: [{ metric: "pg_replication_lag_bytes", fn: "raw", agg: "max", name: "largest" }],
    empty: "No replica in this range (no standby streams from this instance).",
  },
  {
    key: "checkpoints", title: "Checkpoints", unit: "/min", scale: 60,
    parts: [serverRate("pg_checkpoints_timed_total", "timed"), serverRate("pg_checkpoints_requested_total", "requested")],
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

/**
 * Loads and builds the lines of `def` in `mode`, asking the API through `series` (and, for a
 * chart whose groups are named from other labels, `latest`: the latest rows of a metric).
 */
export async function loadChart(
  def: ChartDef, mode: Mode, pick: string[], series: (q: SeriesQuery) => Promise<GroupedAnswer>,
  latest?: (metric: string) => Promise<LatestRow[]>,
): Promise<Drawn> {
  const grouped = mode !== "total" && def.by !== undefined;
  const by = grouped ? def.by : undefined;
  if (by && def.namedBy && latest) {
    const [drawn, names] = await Promise.all([
      loadChart(def, mode, pick, series),
      // Names are a nicety: without them the lines are still there, by address.
      latest(def.namedBy).then(replicaNames, () => new Map<string, string[]>()),
    ]);
    return { ...drawn, lines: labelReplicas(drawn.lines, names) };
  }
  const linesFor = (part: Part, a: GroupedAnswer) =>
    linesOf(a, by ?? part.totalBy, () => part.name, by ? def.things : undefined);
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

/** Each of `names` once, in order, at most MAX_PICK of them, without empty ones. */
function uniquePicks(names: string[]): string[] {
  return [...new Set(names.map((s) => s.trim()).filter(Boolean))].slice(0, MAX_PICK);
}

/** The picked databases a page's query carries (`db=a,b`): each once, at most MAX_PICK. */
export function pickedOf(q: URLSearchParams): string[] {
  return uniquePicks((q.get("db") ?? "").split(","));
}

/** `q` carrying `dbs` as the picked databases (none: no `db` key). */
export function withPicked(q: URLSearchParams, dbs: string[]): URLSearchParams {
  const next = new URLSearchParams(q);
  const picks = uniquePicks(dbs);
  if (picks.length > 0) next.set("db", picks.join(","));
  else next.delete("db");
  return next;
}

// The lines each chart shows live in the URL as `lines=<chart key>:<mode>,…` (e.g.
// `lines=tps:top,lag:top`): one key for all charts keeps the query short, and only charts
// whose lines the user chose appear in it (in the order chosen, the latest last).

/** The chart → mode entries of `lines=`, leaving out unknown charts and modes they lack. */
function modesIn(q: URLSearchParams): Map<string, string> {
  const found = new Map<string, string>();
  for (const entry of (q.get("lines") ?? "").split(",")) {
    const [key, mode] = entry.split(":");
    if (key && mode) found.set(key, mode);
  }
  return found;
}

/**
 * The lines `def` shows: as chosen in `lines=`, else, on a chart by database, the picked
 * databases when `db=` has any, else the total.
 */
export function modeOf(q: URLSearchParams, def: ChartDef): Mode {
  const chosen = modesIn(q).get(def.key);
  const offered = modesOf(def).map(([m]) => m);
  if (chosen !== undefined && offered.includes(chosen as Mode)) return chosen as Mode;
  return def.by === "database" && pickedOf(q).length > 0 ? "pick" : "total";
}

/** `q` with `def`'s lines chosen as `mode`. */
export function withMode(q: URLSearchParams, def: ChartDef, mode: Mode): URLSearchParams {
  const modes = modesIn(q);
  modes.delete(def.key);
  modes.set(def.key, mode);
  const next = new URLSearchParams(q);
  next.set("lines", [...modes].map(([k, m]) => `${k}:${m}`).join(","));
  return next;
}

/** The range keys of an instance page's query (see lib/timeRange.ts). */
const RANGE_KEYS = ["range", "from", "to"];

/** The link to the tables view of `database` on instance `id`, over the page's range. */
export function tablesLink(id: string, database: string, q: URLSearchParams): string {
  const next = new URLSearchParams({ tab: "tables", db: database });
  for (const k of RANGE_KEYS) if (q.has(k)) next.set(k, q.get(k)!);
  return `#/instances/${encodeURIComponent(id)}?${next}`;
}

/** A database in the picker: its latest value, whether it is ticked, and whether it can be. */
export interface PickerEntry { value: string; label: string; last: number | null; checked: boolean; pickable: boolean }

/**
 * The picker's entries: every group (largest first), then picked ones without data in the range
 * (so they can be unticked). A group without a name cannot be picked (`db=` cannot carry it);
 * once MAX_PICK are picked, only the picked ones can be changed.
 */
export function pickerEntries(groups: Group[], picked: string[]): PickerEntry[] {
  const seen = new Set<string>();
  const entries: PickerEntry[] = [];
  const add = (value: string, last: number | null) => {
    if (seen.has(value)) return;
    seen.add(value);
    const checked = picked.includes(value);
    entries.push({ value, label: value || "(no name)", last, checked, pickable: value !== "" && (checked || picked.length < MAX_PICK) });
  };
  for (const g of groups) add(g.value, g.last);
  for (const p of picked) add(p, null);
  return entries;
}

/**
 * The application names of each replica address in the latest rows of a replication metric
 * (an address can show more than one over the window), sorted.
 */
export function replicaNames(rows: LatestRow[]): Map<string, string[]> {
  const names = new Map<string, Set<string>>();
  for (const r of rows) {
    const addr = r.labels.client_addr ?? "";
    const name = r.labels.application_name ?? "";
    if (!names.has(addr)) names.set(addr, new Set());
    if (name) names.get(addr)!.add(name);
  }
  return new Map([...names].map(([a, n]) => [a, [...n].sort()]));
}

/** Lines by client address named "application_name (address)"; a local socket has no address. */
export function labelReplicas(lines: Line[], names: Map<string, string[]>): Line[] {
  return lines.map((l) => {
    if (l.group === undefined) return l;
    const addr = l.group || "local socket";
    const known = names.get(l.group) ?? [];
    return { ...l, label: known.length > 0 ? `${known.join(", ")} (${addr})` : l.group ? addr : `(${addr})` };
  });
}
