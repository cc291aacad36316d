// How a rule reads in a list: its condition in one line, its scope. Pure, tested in
// ruleText.test.ts.
import type { Condition, Labels, Operand, Scope } from "../api/alerting";
import { duration } from "../lib/format";

/** A series selector: `metric{k="v",…}`, added metrics joined by " + " before the filters. */
export function selector(metric: string, labels: Labels, add: string[] = []): string {
  const names = [metric, ...add].join(" + ");
  const l = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",");
  return l ? `${names}{${l}}` : names;
}

/** One operand: the function of its series over the window, aggregated per instance. */
function term(o: Operand, window: number): string {
  const series = selector(o.metric, o.labels, o.add);
  const f = o.function === "value" ? series : `${o.function}(${series}[${window}s])`;
  return o.aggregate === "none" ? f : `${o.aggregate}(${f})`;
}

/**
 * A condition in one line. A metric condition reads as the server writes it in alert summaries
 * (domain/src/alerting/spec.rs `describe`): `sum(rate(m{db="app"}[300s])) > 100`, a value
 * being the latest sample in the window; the other conditions in words.
 */
export function conditionText(c: Condition): string {
  switch (c.kind) {
    case "metric": {
      const left = term(c, c.window_secs);
      const ratio = c.divide_by ? `${left} / ${term(c.divide_by, c.window_secs)}` : left;
      return `${ratio} ${c.op} ${c.threshold}`;
    }
    case "silent":
      return c.target === "collector"
        ? `the collector sends nothing for ${duration(c.after_secs)}`
        : `no samples from the instance for ${duration(c.after_secs)}`;
    case "connection_status":
      return "the instance's connection test fails (error or invalid credentials)";
  }
}

/** Which targets a rule watches; `nameOf` names an instance or collector id. */
export function scopeText(s: Scope, nameOf: (id: string) => string = (id) => id): string {
  switch (s.kind) {
    case "all": return "everything";
    case "tag": return `tag ${s.tag}`;
    case "instance": return `instance ${nameOf(s.id)}`;
    case "collector": return `collector ${nameOf(s.id)}`;
  }
}

/** The labels of an alert worth showing (those the other columns do not already say). */
export function extraLabels(labels: Labels): [string, string][] {
  const shown = new Set(["alertname", "severity", "rule_id", "instance", "instance_id", "collector_id"]);
  return Object.entries(labels).filter(([k]) => !shown.has(k)).sort(([a], [b]) => a.localeCompare(b));
}
