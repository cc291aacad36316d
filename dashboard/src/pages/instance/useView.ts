// Loading a view's data: now, again every `everyMs` (0: never again) and whenever `deps` change.
// The last answer stays on screen while the next one loads, so nothing jumps.
import { useEffect, useRef, useState } from "react";
import { message } from "../../api/errors";
import { reloadChain } from "../../lib/reloadChain";
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
  useEffect(
    () =>
      // One request at a time, the next `everyMs` after an answer; an answer for superseded
      // `deps` is dropped (see reloadChain). A failure is retried after the same wait.
      reloadChain(
        () => loader.current(),
        (o) => {
          if (o.ok) {
            setData(o.value);
            setError(null);
          } else setError(message(o.error));
        },
        everyMs > 0 ? everyMs : null,
        everyMs > 0 ? everyMs : 15000,
      ),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [...deps, everyMs],
  );
  return { data, error };
}
