// The overview's one request, started as early as the page can: main.tsx starts it as soon as
// the session is restored, while React and the pages are still loading, and the overview's
// first load takes that answer. This module is in the first, small script the page loads, so it
// must not import React or any page.
import { get } from "../api/client";
import type { FleetAnswer } from "../api/history";

/** A GET /fleet started before the overview has rendered, for its first load to take, and when. */
let early: Promise<FleetAnswer> | null = null;
let earlyAt = 0;
/** Its answer, once it has come (and until a load takes it). */
let earlyAnswer: FleetAnswer | null = null;

/** How long an early answer may wait for the overview to take it before it counts as stale (from its arrival). */
const EARLY_MS = 5000;

/** Starts the overview's request now, for its first load to take (once, within 5 s). */
export function prefetchFleet(): void {
  if (early === null) {
    early = get<FleetAnswer>("/fleet").then((a) => {
      performance.mark("pga:fleet-parsed");
      if (early !== null) {
        earlyAnswer = a;
        earlyAt = Date.now();
      }
      return a;
    });
  }
  // A failed early request is the first load's to report; nothing else waits on it.
  early.catch(() => undefined);
}

/** The early request if one is waiting (once; still on its way, or answered under 5 s ago), else a new one. */
export function loadFleet(): Promise<FleetAnswer> {
  const p = early !== null && (earlyAnswer === null || Date.now() - earlyAt < EARLY_MS) ? early : null;
  early = null;
  earlyAnswer = null;
  return p ?? get<FleetAnswer>("/fleet");
}

/**
 * The early answer if it has already come (once, within 5 s of its request), for the overview's
 * first render to show without waiting a turn for the promise: else null, and the first load
 * takes the request as it is.
 */
export function takeEarlyAnswer(): FleetAnswer | null {
  const a = earlyAnswer !== null && Date.now() - earlyAt < EARLY_MS ? earlyAnswer : null;
  if (a !== null) {
    early = null;
    earlyAnswer = null;
  }
  return a;
}
