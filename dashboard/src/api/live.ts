// Live changes from GET /api/v1/events (server-sent events): each `change` names what changed,
// and pages that show it reload their data.
//
// EventSource cannot send an Authorization header, and an access token in a URL is refused (it
// would sit in proxy logs and history). So each connection first asks for a one-use ticket with
// the normal API client (which refreshes an expired access token), then opens the stream with
// it. The server ends a stream (`end`) when the session expires or is revoked, or the user is
// deactivated or demoted; then, as after an error, a new ticket is asked for: a live session
// gets one, an ended one is logged out by the API client.
import { api, accessToken } from "./client";
import type { LiveTicket } from "./types";

export interface Change { kind: string; id?: string }
type Listener = (c: Change) => void;

const listeners = new Set<Listener>();
let source: EventSource | null = null;
let retry: number | undefined;
let opening = false;
// Bumped by closeLive, so a ticket that arrives after logout opens nothing.
let generation = 0;

function reconnect(delayMs: number) {
  source?.close();
  source = null;
  window.clearTimeout(retry);
  retry = window.setTimeout(open, delayMs);
}

async function open() {
  if (!accessToken() || source || opening) return;
  opening = true;
  const mine = generation;
  let ticket: string;
  try {
    ticket = (await api<LiveTicket>("POST", "/events/ticket")).ticket;
  } catch {
    opening = false;
    // Logged out (401) or the server is away: try again later if still logged in.
    if (mine === generation && accessToken()) reconnect(3000);
    return;
  }
  opening = false;
  if (mine !== generation || source) return;
  source = new EventSource(`/api/v1/events?ticket=${encodeURIComponent(ticket)}`);
  source.addEventListener("change", (e) => {
    let change: Change = { kind: "unknown" };
    try {
      change = JSON.parse((e as MessageEvent).data);
    } catch {
      /* keep unknown */
    }
    listeners.forEach((l) => l(change));
  });
  source.addEventListener("resync", () => listeners.forEach((l) => l({ kind: "resync" })));
  // The server closed the stream on purpose; a new ticket tells whether the session lives on.
  source.addEventListener("end", () => reconnect(500));
  // A used ticket cannot reopen the stream, so EventSource's own retry is replaced by ours.
  source.onerror = () => reconnect(3000);
}

export function closeLive() {
  generation += 1;
  window.clearTimeout(retry);
  source?.close();
  source = null;
}

/** Calls `l` on every change; returns the unsubscribe. */
export function subscribe(l: Listener): () => void {
  listeners.add(l);
  void open();
  return () => listeners.delete(l);
}
