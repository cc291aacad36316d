// The Statements view: the three top lists and each statement's trend, and the link to one
// statement's history. Pure, tested in statements.test.ts.
import type { TopStatement } from "../../api/types";

export type By = "total_time" | "mean_time" | "calls";

export const LISTS: [By, string][] = [
  ["total_time", "Top by total time"],
  ["mean_time", "Top by mean time"],
  ["calls", "Top by calls"],
];

/** The trend a list sorts by, per bucket: total time, mean time (null without calls) or calls. */
export function trendOf(s: TopStatement, by: By): (number | null)[] {
  return s.trend.map(([, calls, total]) => (by === "calls" ? calls : by === "total_time" ? total : calls > 0 ? total / calls : null));
}

/** The query of a statement's history: the page's query with `queryid` and `qdb` (and the statements tab). */
export function historyQuery(q: URLSearchParams, queryid: string, database: string): URLSearchParams {
  const next = new URLSearchParams();
  next.set("tab", "statements");
  for (const k of ["range", "from", "to"]) if (q.has(k)) next.set(k, q.get(k)!);
  next.set("queryid", queryid);
  next.set("qdb", database);
  return next;
}

/** A statement's text on one line, cut to `max` characters. */
export function oneLine(text: string | null | undefined, max = 140): string {
  const t = (text ?? "").replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/**
 * A statement's mean time per bucket: execution time per second over calls per second (the ms a
 * call took in that bucket), from the two rates' points; buckets without calls have none. Not
 * pg_statement_mean_time_ms, which is pg_stat_statements' average since its last reset.
 */
export function meanPerBucket(time: readonly [number, number][], calls: readonly [number, number][]): [number, number][] {
  const callsAt = new Map(calls);
  return time.flatMap(([x, t]): [number, number][] => {
    const c = callsAt.get(x);
    return c !== undefined && c > 0 ? [[x, t / c]] : [];
  });
}

/** The statement `queryid` in `database` among ranked lists, null when none has it. */
export function findStatement(lists: readonly (readonly TopStatement[])[], queryid: string, database: string): TopStatement | null {
  for (const l of lists) {
    const s = l.find((x) => x.queryid === queryid && x.database === database);
    if (s) return s;
  }
  return null;
}
