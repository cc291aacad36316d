// What the instance views read from GET /metrics/latest (the newest value of every series, joined
// into rows by labels) and how they fold it: sums by a label, the top few and the rest, ages.
// Pure but for `latest`, tested in latest.test.ts.
import { get } from "../../api/client";
import type { LatestAnswer, LatestRow, SeriesAnswer } from "../../api/types";

/** GET /metrics/latest for the instance `instance` (name or id). */
export function latest(instance: string, metrics: string[], opts: { within?: number; spark?: string; sparkFn?: "raw" | "rate"; sort?: string } = {}): Promise<LatestAnswer> {
  const q = new URLSearchParams({ instance_id: instance, metric: metrics.join(",") });
  if (opts.within !== undefined) q.set("within", String(Math.max(60, Math.min(604800, Math.round(opts.within)))));
  if (opts.spark) q.set("spark", opts.spark);
  if (opts.sparkFn) q.set("spark_fn", opts.sparkFn);
  // Largest first by this metric before the server's 5,000-row cut.
  if (opts.sort) q.set("sort", opts.sort);
  return get<LatestAnswer>(`/metrics/latest?${q}`);
}

/** A metric's value in a row, `null` when the row has none. */
export function val(r: LatestRow, metric: string): number | null {
  const v = r.values[metric];
  return v === undefined || !Number.isFinite(v) ? null : v;
}

/**
 * The rows of `metric` from the same collection as `anchor`, a metric of its family sent on every
 * pass (pg_activity_total for activity, pg_locks_blocked_sessions for locks). The server leaves
 * out series its collector's latest pass no longer sent, but a metric with no rows at all in that
 * pass (nobody waits) keeps its last rows until the window ends: those are older than the anchor.
 * Without the anchor, the rows as the server gave them.
 */
export function current(rows: LatestRow[], metric: string, anchor: string): LatestRow[] {
  const mine = rows.filter((r) => val(r, metric) !== null);
  const at = rows.filter((r) => val(r, anchor) !== null).map((r) => r.ts);
  if (at.length === 0) return mine;
  const pass = Math.max(...at);
  return mine.filter((r) => r.ts >= pass);
}

/** The newest sample's time among `rows` (unix ms), null without rows. */
export function newest(rows: readonly LatestRow[]): number | null {
  return rows.length ? Math.max(...rows.map((r) => r.ts)) : null;
}

/** "latest collection, 12 s ago": how old the newest row is by the server's clock (`at`, RFC 3339). */
export function collected(rows: readonly LatestRow[], at: string): string {
  const ts = newest(rows);
  if (ts === null) return "no collection yet";
  return `latest collection, ${since(ts / 1000, Date.parse(at))}`;
}

/** The value of `metric` in the row without labels (an instance-wide figure), or null. */
export function single(rows: LatestRow[], metric: string): number | null {
  let found: number | null = null;
  for (const r of rows) {
    const v = val(r, metric);
    if (v !== null) found = (found ?? 0) + v;
  }
  return found;
}

/** `metric` summed per value of `label` (missing label: ""), largest first, then by name. */
export function sumBy(rows: LatestRow[], label: string, metric: string): [string, number][] {
  const by = new Map<string, number>();
  for (const r of rows) {
    const v = val(r, metric);
    if (v === null) continue;
    const k = r.labels[label] ?? "";
    by.set(k, (by.get(k) ?? 0) + v);
  }
  return [...by].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** The first `n` entries, then the others summed as one `[“n others”, sum]` (none when ≤ n). */
export function topAndRest(entries: [string, number][], n: number): { top: [string, number][]; rest: { count: number; sum: number } | null } {
  if (entries.length <= n) return { top: entries, rest: null };
  const others = entries.slice(n);
  return { top: entries.slice(0, n), rest: { count: others.length, sum: others.reduce((s, [, v]) => s + v, 0) } };
}

/** A number of seconds as a short age: "45 s", "12 min", "3 h 5 min", "2 d 4 h". */
export function age(secs: number | null): string {
  if (secs === null || !Number.isFinite(secs) || secs < 0) return "–";
  const s = Math.round(secs);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h${s % 3600 >= 60 ? ` ${Math.floor((s % 3600) / 60)} min` : ""}`;
  return `${Math.floor(s / 86400)} d${s % 86400 >= 3600 ? ` ${Math.floor((s % 86400) / 3600)} h` : ""}`;
}

/** A lag in seconds: under a second in ms ("350 ms"), else as an age; "–" for none. */
export function lag(secs: number | null): string {
  if (secs === null || !Number.isFinite(secs)) return "–";
  return secs < 1 ? `${Math.round(Math.max(0, secs) * 1000)} ms` : age(secs);
}

/** A unix-seconds timestamp as "3 h ago"; "never" for none or 0 (PostgreSQL's "not yet"). */
export function since(unixS: number | null | undefined, nowMs: number = Date.now()): string {
  if (!unixS) return "never";
  const s = Math.max(0, Math.round(nowMs / 1000 - unixS));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/**
 * GET /metrics/series over `from`..`to` (unix s) for `scope` (`instance_id=…` or `collector_id=…`
 * and labels). `agg` combines the matching series per bucket into one (several collectors of one
 * instance, a statement seen by two): without it a view taking the first series drops the others.
 */
export function seriesOf(scope: Record<string, string>, metric: string, fn: "raw" | "rate", from: number, to: number, agg?: "sum" | "max" | "avg"): Promise<SeriesAnswer> {
  const q = new URLSearchParams({ ...scope, metric, fn, from: String(from), to: String(to) });
  if (agg) q.set("agg", agg);
  return get(`/metrics/series?${q}`);
}
