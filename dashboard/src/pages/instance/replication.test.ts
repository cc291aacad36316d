import { describe, expect, it } from "vitest";
import type { LatestRow } from "../../api/types";
import { replicas, slots } from "./replication";

const row = (labels: Record<string, string>, values: Record<string, number>): LatestRow => ({ labels, ts: 0, values, rates: {} });
const r1 = { application_name: "standby1", client_addr: "10.0.0.2", state: "streaming", sync_state: "async" };

describe("replication rows", () => {
  it("joins a replica's bytes behind with its lag per kind", () => {
    const got = replicas([
      row(r1, { pg_replication_lag_bytes: 4096 }),
      row({ ...r1, kind: "write" }, { pg_replication_lag_seconds: 0.1 }),
      row({ ...r1, kind: "replay" }, { pg_replication_lag_seconds: 2.5 }),
      row({ ...r1, application_name: "standby2" }, { pg_replication_lag_bytes: 99999 }),
    ]);
    expect(got.map((r) => r.name)).toEqual(["standby2", "standby1"]);
    expect(got[1]).toMatchObject({ bytes: 4096, write: 0.1, flush: null, replay: 2.5, state: "streaming" });
  });
  it("takes a replica's state and lag from its newest row, whatever the label order", () => {
    const at = (ts: number, labels: Record<string, string>, values: Record<string, number>): LatestRow => ({ labels, ts, values, rates: {} });
    // Until 2000 it was async; since 3000 it is the sync standby. Either order of rows.
    const rows = [
      at(2000, { ...r1, sync_state: "async" }, { pg_replication_lag_bytes: 5000 }),
      at(2000, { ...r1, sync_state: "async", kind: "replay" }, { pg_replication_lag_seconds: 9 }),
      at(3000, { ...r1, sync_state: "sync" }, { pg_replication_lag_bytes: 10 }),
      at(3000, { ...r1, sync_state: "sync", kind: "replay" }, { pg_replication_lag_seconds: 0.2 }),
    ];
    for (const order of [rows, [...rows].reverse()]) {
      const got = replicas(order);
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({ sync: "sync", bytes: 10, replay: 0.2 });
    }
  });
  it("lists slots with their active flag, most retained WAL first", () => {
    const got = slots([
      row({ slot_name: "a", slot_type: "physical" }, { pg_replication_slot_active: 1, pg_replication_slot_retained_wal_bytes: 10 }),
      row({ slot_name: "b", slot_type: "logical" }, { pg_replication_slot_active: 0, pg_replication_slot_retained_wal_bytes: 500 }),
    ]);
    expect(got).toEqual([
      { name: "b", type: "logical", active: false, retained: 500 },
      { name: "a", type: "physical", active: true, retained: 10 },
    ]);
  });
  it("has no replicas and no slots on a lone primary", () => {
    expect(replicas([row({}, { pg_replication_replay_delay_seconds: 0 })])).toEqual([]);
    expect(slots([])).toEqual([]);
  });
});
