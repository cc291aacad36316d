// Loading a view's data: now, again every `everyMs` (0: never again) and whenever `deps` change.
// The last answer stays on screen while the next one loads, so nothing jumps.
import { useEffect, useRef, useState } from "react";
import { message } from "../../api/errors";
import { RANGES, type TimeRange } from "../../lib/timeRange";

/** The window to read now: a moving range ends now (it moved since the URL was read), a fixed one stays. */
export function windowNow(range: TimeRange, nowMs: number = Date.now()): { from: number; to: number } {
  const moving = RANGES.find(([k]) => k === range.key);
  if (!moving) return { from: range.from, to: range.to };
  const to = Math.floor(nowMs / 1000);
  return { from: to - moving[2], to };
}

/** A key that changes only when the range means another window (not as "now" moves on). */
export function rangeKey(range: TimeRange): string {
  return range.key === "custom" ? `${range.from}-${range.to}` : range.key;
}

export function useView<T>(load: () => Promise<T>, deps: unknown[], everyMs = 15000) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const loader = useRef(load);
  loader.current = load;
  useEffect(() => {
    let live = true;
    const run = () =>
      loader.current()
        .then((d) => live && (setData(d), setError(null)))
        .catch((e: unknown) => live && setError(message(e)));
    run();
    const t = everyMs > 0 ? window.setInterval(run, everyMs) : undefined;
    return () => {
      live = false;
      window.clearInterval(t);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, everyMs]);
  return { data, error };
}
