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
