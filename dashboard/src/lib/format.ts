// How numbers, times and states read on screen. Pure functions, tested in format.test.ts.
import type { ConnectionTestResult } from "../api/types";

/** A number rounded to a whole one, grouped the locale's way: 12,346. */
export function num(n: number): string {
  return new Intl.NumberFormat().format(Math.round(n));
}

/** How long ago `iso` was, in its largest whole unit ("3 min ago"); "never" for none. */
export function ago(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A managed instance's connection status in words. */
export function statusText(s: string): string {
  switch (s) {
    case "connected": return "Connected";
    case "invalid_credentials": return "Invalid credentials";
    case "error": return "Error";
    case "unknown":
    case "untested": return "Not tested";
    default: return s.replace(/_/g, " ");
  }
}

const MIB = 1048576;

/** Bytes in MiB, as the size chart shows them. */
export function toMiB(bytes: number): number {
  return bytes / MIB;
}

/** What a connection test says: its latency and server version, or why it failed. */
export function connectionTestNote(r: ConnectionTestResult): { ok: boolean; text: string } {
  return r.success
    ? { ok: true, text: `Connection successful (${Math.round(r.latency_ms ?? 0)} ms${r.server_version ? `, PostgreSQL ${r.server_version}` : ""})` }
    : { ok: false, text: r.error ?? statusText(r.status) };
}

/** Registrations used, and of how many when a secret is limited: "3 / 10". */
export function usage(used: number, max: number | null): string {
  return `${used}${max !== null ? ` / ${max}` : ""}`;
}

/** A collector's refused batches, and why the latest one was refused. */
export function refusedText(batches: number, reason: string | null): string {
  return `${num(batches)} refused${reason ? `: ${reason}` : ""}`;
}

/** A number of seconds in its largest whole unit: "90 s", "5 min", "4 h", "1 d". */
export function duration(secs: number): string {
  if (secs > 0 && secs % 86400 === 0) return `${secs / 86400} d`;
  if (secs > 0 && secs % 3600 === 0) return `${secs / 3600} h`;
  if (secs > 0 && secs % 60 === 0) return `${secs / 60} min`;
  return `${secs} s`;
}

/** A measured value as an alert shows it: up to 4 significant digits, "–" for none. */
export function value(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return String(Number(v.toPrecision(4)));
}
