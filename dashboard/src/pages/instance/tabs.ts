// The instance page's tabs as URL queries. Pure, tested in tabs.test.ts.

/** The views, in the tabs' order; the first is the default (no `tab=`). */
export const TABS = ["metrics", "activity", "tables", "replication", "host", "statements", "history"] as const;
export type Tab = (typeof TABS)[number];

/** The keys a tab link carries over from the current view: the range and the picked databases. */
const KEPT = ["range", "from", "to", "db"];

/** The tab a query asks for; the first one for none or an unknown one. */
export function tabOf(q: URLSearchParams): Tab {
  return TABS.find((t) => t === q.get("tab")) ?? TABS[0];
}

/** The query of `tab`'s link from the current query: the range and databases stay, the view's own keys go. */
export function tabQuery(q: URLSearchParams, tab: Tab): URLSearchParams {
  const next = new URLSearchParams();
  if (tab !== TABS[0]) next.set("tab", tab);
  for (const k of KEPT) if (q.has(k)) next.set(k, q.get(k)!);
  return next;
}
