// The Host view's figures from /metrics/latest: memory in use, disks per path.
// Pure, tested in host.test.ts.
import type { LatestRow } from "../../api/types";
import { single, val } from "./latest";

export const HOST_METRICS = [
  "node_cpu_percent", "node_memory_total_bytes", "node_memory_available_bytes", "node_memory_free_bytes",
  "node_memory_cached_bytes", "node_memory_buffers_bytes", "node_swap_total_bytes", "node_swap_free_bytes",
  "node_load1", "node_load5", "node_load15",
  "node_filesystem_size_bytes", "node_filesystem_used_bytes", "node_filesystem_free_bytes",
];

export interface Memory { total: number; used: number; available: number; cached: number | null }

/** Memory in use: total less what is available (the kernel's estimate, caches that can go count as available). */
export function memory(rows: LatestRow[]): Memory | null {
  const total = single(rows, "node_memory_total_bytes");
  const available = single(rows, "node_memory_available_bytes") ?? single(rows, "node_memory_free_bytes");
  if (total === null || available === null || total <= 0) return null;
  const cached = single(rows, "node_memory_cached_bytes");
  return { total, used: Math.max(0, total - available), available, cached };
}

export interface Disk { path: string; size: number; used: number; free: number | null; ratio: number }

/**
 * Each mounted path's use, the fullest first. As df computes it: used / (used + free), where free
 * is what an unprivileged user may still write (statvfs's bavail). ext4 keeps blocks for root, so
 * used / size would say 95 % on a disk that is full.
 */
export function disks(rows: LatestRow[]): Disk[] {
  return rows
    .filter((r) => r.labels.path !== undefined && val(r, "node_filesystem_size_bytes"))
    .map((r) => {
      const size = val(r, "node_filesystem_size_bytes")!;
      const free = val(r, "node_filesystem_free_bytes");
      const used = val(r, "node_filesystem_used_bytes") ?? (free !== null ? size - free : 0);
      const usable = used + (free ?? size - used);
      return { path: r.labels.path, size, used, free, ratio: usable > 0 ? Math.min(1, Math.max(0, used / usable)) : 0 };
    })
    .sort((a, b) => b.ratio - a.ratio || a.path.localeCompare(b.path));
}
