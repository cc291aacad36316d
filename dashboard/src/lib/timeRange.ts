// The time range of an instance page's views, kept in the page's URL so a link or a reload
// shows the same range: `range=<key>` for a moving window ending now, or `from=<unix s>&to=<unix s>`
// for a fixed one (a drag-to-zoom or a picked interval).

/** The moving windows the range picker offers: key, label, seconds. */
export const RANGES: readonly [string, string, number][] = [
  ["15m", "15 min", 900],
  ["1h", "1 hour", 3600],
  ["6h", "6 hours", 21600],
  ["24h", "24 hours", 86400],
  ["7d", "7 days", 604800],
];

export const DEFAULT_RANGE = "1h";

/** A resolved range: unix seconds; `key` is a RANGES key, or `"custom"` for a fixed window. */
export interface TimeRange { from: number; to: number; key: string }

/** The range a page's query asks for (`now` in unix seconds). Bad values fall back to the default. */
export function rangeOf(q: URLSearchParams, now: number = Math.floor(Date.now() / 1000)): TimeRange {
  const from = Number(q.get("from"));
  const to = Number(q.get("to"));
  if (q.has("from") && q.has("to") && Number.isInteger(from) && Number.isInteger(to) && from > 0 && from < to) {
    return { from, to, key: "custom" };
  }
  const found = RANGES.find(([k]) => k === q.get("range")) ?? RANGES.find(([k]) => k === DEFAULT_RANGE)!;
  return { from: now - found[2], to: now, key: found[0] };
}

/** `q` with its range replaced by `r`: a RANGES key, or a fixed window in unix seconds. */
export function withRange(q: URLSearchParams, r: string | { from: number; to: number }): URLSearchParams {
  const next = new URLSearchParams(q);
  next.delete("range");
  next.delete("from");
  next.delete("to");
  if (typeof r === "string") {
    if (r !== DEFAULT_RANGE) next.set("range", r);
  } else {
    next.set("from", String(Math.floor(r.from)));
    next.set("to", String(Math.ceil(r.to)));
  }
  return next;
}
