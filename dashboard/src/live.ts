// Live changes from GET /api/v1/events (server-sent events): each `change` names what changed,
// and pages that show it reload their data. Reconnects with a fresh token after an error.
import { accessToken } from "./api";

export interface Change { kind: string; id?: string }
type Listener = (c: Change) => void;

const listeners = new Set<Listener>();
let source: EventSource | null = null;
let retry: number | undefined;

function open() {
  const token = accessToken();
  if (!token || source) return;
  source = new EventSource(`/api/v1/events?access_token=${encodeURIComponent(token)}`);
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
  source.onerror = () => {
    source?.close();
    source = null;
    window.clearTimeout(retry);
    retry = window.setTimeout(open, 3000);
  };
}

export function closeLive() {
  source?.close();
  source = null;
}

/** Calls `l` on every change; returns the unsubscribe. */
export function subscribe(l: Listener): () => void {
  listeners.add(l);
  open();
  return () => listeners.delete(l);
}
