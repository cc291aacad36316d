import { useEffect, useState } from "react";

/** Re-renders every `ms` (relative times stay true). */
export function useTick(ms: number) {
  const [, setN] = useState(0);
  useEffect(() => {
    const t = window.setInterval(() => setN((n) => n + 1), ms);
    return () => window.clearInterval(t);
  }, [ms]);
}
