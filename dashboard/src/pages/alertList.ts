// How alerts are ordered and counted on the alerts page and the overview. Pure, tested in
// alertList.test.ts.
import { SEVERITIES, type Alert, type Severity } from "../api/alerting";

const rank = (s: Severity) => SEVERITIES.indexOf(s);

/** Firing before pending, then the most severe, then the newest. */
export function byUrgency(alerts: readonly Alert[]): Alert[] {
  return [...alerts].sort((a, b) =>
    Number(b.state === "firing") - Number(a.state === "firing")
    || rank(b.severity) - rank(a.severity)
    || Date.parse(b.since) - Date.parse(a.since));
}

/** The newest first (by when their current state began). */
export function newestFirst(alerts: readonly Alert[]): Alert[] {
  return [...alerts].sort((a, b) => Date.parse(b.since) - Date.parse(a.since));
}

/** How many alerts fire, per severity, most severe first (every severity, zeros included). */
export function firingBySeverity(alerts: readonly Alert[]): [Severity, number][] {
  return [...SEVERITIES].reverse().map((s) => [s, alerts.filter((a) => a.state === "firing" && a.severity === s).length]);
}

/** Where an alert comes from, in words: its instance, else its collector, else "–". */
export function sourceOf(a: Pick<Alert, "instance_name" | "instance_id" | "collector_id">): string {
  return a.instance_name ?? (a.collector_id ? `collector ${a.collector_id.slice(0, 8)}` : a.instance_id ?? "–");
}
