import { describe, expect, it } from "vitest";
import type { LatestRow } from "../../api/types";
import { disks, memory } from "./host";

const row = (labels: Record<string, string>, values: Record<string, number>): LatestRow => ({ labels, ts: 0, values, rates: {} });

describe("host figures", () => {
  it("counts memory in use as total less available", () => {
    expect(memory([row({}, { node_memory_total_bytes: 1000, node_memory_available_bytes: 250, node_memory_free_bytes: 100 })]))
      .toEqual({ total: 1000, used: 750, available: 250, cached: null });
    expect(memory([row({}, { node_load1: 1 })])).toBeNull();
  });
  it("lists disks by path, the fullest first", () => {
    const got = disks([
      row({ path: "/" }, { node_filesystem_size_bytes: 100, node_filesystem_used_bytes: 50, node_filesystem_free_bytes: 50 }),
      row({ path: "/data" }, { node_filesystem_size_bytes: 100, node_filesystem_used_bytes: 90, node_filesystem_free_bytes: 10 }),
      row({ path: "/empty" }, { node_filesystem_size_bytes: 0 }),
    ]);
    expect(got.map((d) => [d.path, d.ratio])).toEqual([["/data", 0.9], ["/", 0.5]]);
  });
  it("counts a disk full as df does, with the blocks kept for root left out", () => {
    // 100 GB, 5 % kept for root: 95 used and nothing left for anyone else is full, not 95 %.
    const [d] = disks([row({ path: "/var/lib/postgresql" }, { node_filesystem_size_bytes: 100, node_filesystem_used_bytes: 95, node_filesystem_free_bytes: 0 })]);
    expect(d.ratio).toBe(1);
    const [e] = disks([row({ path: "/" }, { node_filesystem_size_bytes: 100, node_filesystem_used_bytes: 45, node_filesystem_free_bytes: 50 })]);
    expect(e.ratio).toBeCloseTo(45 / 95);
  });
});
