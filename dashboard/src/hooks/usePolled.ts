import { useEffect, useRef, useState } from "react";
import { message } from "../api/errors";
import { subscribe } from "../api/live";

/**
 * Loads `load()` now, every `everyMs`, and on a live change of one of `kinds`; changes closer
 * than `gapMs` to the last load wait for the gap (a busy fleet sends many, one load answers all).
 * An `initial` answer (one already at hand when the component mounts) is shown at once and
 * counts as the first load.
 */
export function usePolled<T>(load: () => Promise<T>, kinds: string[], everyMs: number, gapMs: number, initial: T | null = null) {
  const [data, setData] = useState<T | null>(initial);
  const first = useRef(initial !== null);
  const [error, setError] = useState<string | null>(null);
  const loader = useRef(load);
  loader.current = load;
  useEffect(() => {
    let live = true;
    let last = 0;
    let pending: number | undefined;
    const run = () => {
      pending = undefined;
      last = Date.now();
      loader.current()
        .then((d) => live && (setData(d), setError(null)))
        .catch((e: unknown) => live && setError(message(e)));
    };
    const soon = () => {
      if (pending !== undefined) return;
      pending = window.setTimeout(run, Math.max(0, last + gapMs - Date.now()));
    };
    if (first.current) {
      first.current = false;
      last = Date.now();
    } else {
      run();
    }
    const timer = window.setInterval(run, everyMs);
    const unsubscribe = subscribe((c) => {
      if (c.kind === "resync" || kinds.includes(c.kind)) soon();
    });
    return () => {
      live = false;
      window.clearInterval(timer);
      window.clearTimeout(pending);
      unsubscribe();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [everyMs, gapMs, kinds.join()]);
  return { data, error };
}
