// How numbers, times and states read on screen. Pure functions, tested in format.test.ts.
import type { ConnectionTestResult } from "../api/types";

/** One formatter for every call: making one per number cost the overview ~70 ms of its start. */
const WHOLE = new Intl.NumberFormat();

/** A number rounded to a whole one, grouped the locale's way: 12,346. */
export function num(n: number): string {
  return WHOLE.format(Math.round(n));
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

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** A size in its largest binary unit with up to 3 significant digits: "512 B", "1.5 GiB". */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  let v = Math.max(0, n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${u === 0 ? Math.round(v) : Number(v.toPrecision(3))} ${UNITS[u]}`;
}

/** A 0..1 ratio as a percentage with one decimal: "99.5 %"; "–" for none. */
export function percent(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return "–";
  return `${(r * 100).toFixed(1)} %`;
}

/** An instant in the user's time zone as a `datetime-local` input takes it (to the second). */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A `datetime-local` input's value (the user's time zone) as an instant; null when empty or bad. */
export function fromLocalInput(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : null;
}
