// The audit trail's filters: kept in the location's hash query (so a link shows the same rows),
// sent to GET /audit and /audit/export. Pure functions, tested in auditQuery.test.ts.

export interface AuditFilters {
  /** Who did it (actor_name). */
  actor: string;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  /** RFC 3339 instants (inclusive), or "". */
  from: string;
  to: string;
}

export const NO_FILTERS: AuditFilters = { actor: "", aggregate_type: "", aggregate_id: "", event_type: "", from: "", to: "" };

const KEYS = Object.keys(NO_FILTERS) as (keyof AuditFilters)[];

/** The filters a hash query (`actor=bob&from=…`) holds; unknown keys are ignored. */
export function filtersOf(query: string): AuditFilters {
  const q = new URLSearchParams(query);
  const f = { ...NO_FILTERS };
  for (const k of KEYS) f[k] = q.get(k)?.trim() ?? "";
  return f;
}

/** The query string of the filters that are set, in a fixed order (`actor=bob&to=…`). */
export function queryOf(f: AuditFilters, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const k of KEYS) if (f[k].trim()) q.set(k, f[k].trim());
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q.toString();
}

/** The whole local day of a `date` input's value (`2026-12-03`): 00:00 to 23:59:59.999, as instants. */
export function dayRange(date: string): { from: string; to: string } | null {
  const m = date.match(/^(\d{4})-(\d{2})-(\d{2})$/);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]) - 1, Number(m[3])];
  return {
    from: new Date(y, mo, d, 0, 0, 0, 0).toISOString(),
    to: new Date(y, mo, d, 23, 59, 59, 999).toISOString(),
  };
}

/** The local day `from`..`to` covers exactly (as `dayRange` sets it), for the day picker; else "". */
export function dayOf(f: Pick<AuditFilters, "from" | "to">): string {
  if (!f.from) return "";
  const d = new Date(f.from);
  if (!Number.isFinite(d.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  const date = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  const day = dayRange(date);
  return day && day.from === f.from && day.to === f.to ? date : "";
}

/** The export's file name when the server gives none: `audit-<from>-<to>.<ext>`. */
export function exportName(f: AuditFilters, ext: "csv" | "jsonl"): string {
  const part = (iso: string, none: string) => (iso ? iso.replace(/[:.]/g, "") : none);
  return `audit-${part(f.from, "start")}-${part(f.to, "now")}.${ext}`;
}

/** Where an entry's resource has a page of its own, its link; else null. */
export function resourceLink(aggregateType: string, id: string): string | null {
  switch (aggregateType) {
    case "managed_instance": return `#/instances/${id}`;
    case "collector": return `#/collectors/${id}`;
    case "alert": return `#/alerts/${id}`;
    case "alert_rule": return `#/rules?rule=${encodeURIComponent(id)}`;
    default: return null;
  }
}
