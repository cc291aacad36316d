// The Replication view's replicas from /metrics/latest: the bytes behind (one series per replica)
// joined with the write/flush/replay lag in seconds (one series per replica and kind).
// Pure, tested in replication.test.ts.
import type { LatestRow } from "../../api/types";
import { val } from "./latest";

export interface Replica {
  name: string; client: string; state: string; sync: string;
  bytes: number | null; write: number | null; flush: number | null; replay: number | null;
}

/**
 * One entry per replica (application_name and address). A replica's series of an earlier state or
 * sync_state (it switched from async to sync) may still be in the window: each figure and the
 * state come from the row with the newest sample, not from whichever label set sorts last.
 */
export function replicas(rows: LatestRow[]): Replica[] {
  const by = new Map<string, { rep: Replica; at: Record<"state" | "bytes" | "write" | "flush" | "replay", number> }>();
  for (const r of rows) {
    const bytes = val(r, "pg_replication_lag_bytes");
    const secs = val(r, "pg_replication_lag_seconds");
    if (bytes === null && secs === null) continue;
    const l = r.labels;
    const k = `${l.application_name ?? ""}\u0000${l.client_addr ?? ""}`;
    const e = by.get(k) ?? {
      rep: { name: l.application_name || "(no name)", client: l.client_addr ?? "", state: "", sync: "", bytes: null, write: null, flush: null, replay: null },
      at: { state: -Infinity, bytes: -Infinity, write: -Infinity, flush: -Infinity, replay: -Infinity },
    };
    if (r.ts > e.at.state) {
      e.rep.state = l.state ?? "";
      e.rep.sync = l.sync_state ?? "";
      e.at.state = r.ts;
    }
    if (bytes !== null && r.ts > e.at.bytes) {
      e.rep.bytes = bytes;
      e.at.bytes = r.ts;
    }
    const kind = l.kind;
    if (secs !== null && (kind === "write" || kind === "flush" || kind === "replay") && r.ts > e.at[kind]) {
      e.rep[kind] = secs;
      e.at[kind] = r.ts;
    }
    by.set(k, e);
  }
  return [...by.values()].map((e) => e.rep).sort((a, b) => (b.bytes ?? -1) - (a.bytes ?? -1) || a.name.localeCompare(b.name));
}

export interface Slot { name: string; type: string; active: boolean; retained: number | null }

export function slots(rows: LatestRow[]): Slot[] {
  return rows
    .filter((r) => r.labels.slot_name !== undefined && val(r, "pg_replication_slot_active") !== null)
    .map((r) => ({
      name: r.labels.slot_name, type: r.labels.slot_type ?? "",
      active: val(r, "pg_replication_slot_active") === 1, retained: val(r, "pg_replication_slot_retained_wal_bytes"),
    }))
    .sort((a, b) => (b.retained ?? -1) - (a.retained ?? -1) || a.name.localeCompare(b.name));
}
