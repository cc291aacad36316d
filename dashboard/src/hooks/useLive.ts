import { useCallback, useEffect, useState } from "react";
import { message } from "../api/errors";
import { subscribe } from "../api/live";

/** Loads `load()` now, again when a live change of one of `kinds` arrives. */
export function useLive<T>(load: () => Promise<T>, kinds: string[], deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = useCallback(() => {
    load()
      .then((d) => {
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => setError(message(e)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    reload();
    return subscribe((c) => {
      if (c.kind === "resync" || kinds.includes(c.kind)) reload();
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [reload]);
  return { data, error, reload };
}
