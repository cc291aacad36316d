// Silencing an alert: the matchers it starts from and the body of `POST /silences`. Pure, tested
// in silenceForm.test.ts.
import type { Alert, Matcher, NewSilence } from "../api/alerting";

/** The durations offered, in hours. */
export const SILENCE_HOURS = [1, 4, 24] as const;

/** Matchers that silence this alert's rule on its instance (or collector, for a collector's alert). */
export function matchersFor(a: Pick<Alert, "rule_name" | "instance_name" | "collector_id">): Matcher[] {
  const m: Matcher[] = [{ name: "alertname", op: "=", value: a.rule_name }];
  if (a.instance_name) m.push({ name: "instance", op: "=", value: a.instance_name });
  else if (a.collector_id) m.push({ name: "collector_id", op: "=", value: a.collector_id });
  return m;
}

/** The body of `POST /silences`, or what is wrong with the form. Blank matcher rows are left out. */
export function silenceBody(matchers: Matcher[], hours: number, comment: string, now: number = Date.now()): NewSilence | string {
  const kept = matchers.map((m) => ({ ...m, name: m.name.trim() })).filter((m) => m.name || m.value);
  if (kept.length === 0) return "a silence needs at least one matcher";
  const unnamed = kept.find((m) => !m.name);
  if (unnamed) return `the matcher for "${unnamed.value}" has no label name`;
  if (!(hours > 0)) return "choose how long";
  return { matchers: kept, ends_at: new Date(now + hours * 3600000).toISOString(), comment: comment.trim() };
}

/** Matchers in one line: `alertname="High load", instance!="db2"`. */
export function matchersText(matchers: Matcher[]): string {
  return matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(", ");
}
