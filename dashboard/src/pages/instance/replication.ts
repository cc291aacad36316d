// The Replication view's replicas from /metrics/latest: the bytes behind (one series per replica)
// joined with the write/flush/replay lag in seconds (one series per replica and kind).
// Pure, tested in replication.test.ts.
import type { LatestRow } from "../../api/types";
import { val } from "./latest";

export interface Replica {
  name: string; client: string; state: string; sync: string;
  bytes: number | null; write: number | null; flush: number | null; replay: number | null;
}

export function replicas(rows: LatestRow[]): Replica[] {
  const by = new Map<string, Replica>();
  for (const r of rows) {
    const bytes = val(r, "pg_replication_lag_bytes");
    const secs = val(r, "pg_replication_lag_seconds");
    if (bytes === null && secs === null) continue;
    const l = r.labels;
    const k = `${l.application_name ?? ""}\u0000${l.client_addr ?? ""}`;
    const rep = by.get(k) ?? {
      name: l.application_name || "(no name)", client: l.client_addr ?? "", state: l.state ?? "", sync: l.sync_state ?? "",
      bytes: null, write: null, flush: null, replay: null,
    };
    if (bytes !== null) rep.bytes = bytes;
    if (secs !== null && (l.kind === "write" || l.kind === "flush" || l.kind === "replay")) rep[l.kind] = secs;
    by.set(k, rep);
  }
  return [...by.values()].sort((a, b) => (b.bytes ?? -1) - (a.bytes ?? -1) || a.name.localeCompare(b.name));
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
