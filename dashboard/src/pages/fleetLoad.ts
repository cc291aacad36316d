// The overview's one request, started as early as the page can: main.tsx starts it as soon as
// the session is restored, while React and the pages are still loading, and the overview's
// first load takes that answer. This module is in the first, small script the page loads, so it
// must not import React or any page.
import { get } from "../api/client";
import type { FleetAnswer } from "../api/history";

/** A GET /fleet started before the overview has rendered, for its first load to take, and when. */
let early: Promise<FleetAnswer> | null = null;
let earlyAt = 0;

/** How long an early answer may wait for the overview to take it before it counts as stale. */
const EARLY_MS = 5000;

/** Starts the overview's request now, for its first load to take (once, within 5 s). */
export function prefetchFleet(): void {
  if (early === null) {
    early = get<FleetAnswer>("/fleet");
    earlyAt = Date.now();
  }
  // A failed early request is the first load's to report; nothing else waits on it.
  early.catch(() => undefined);
}

/** The early request if one is waiting (once), else a new one. */
export function loadFleet(): Promise<FleetAnswer> {
  const p = early !== null && Date.now() - earlyAt < EARLY_MS ? early : null;
  early = null;
  return p ?? get<FleetAnswer>("/fleet");
}
