// "Alert on this" from an instance chart: the rule form filled in with the chart's metric, the
// instance as scope and the highest value the chart shows as threshold, carried to the rules
// page in the URL (`#/rules?metric=…`), so the link can be reloaded or shared. Pure, tested in
// chartAlert.test.ts.
import type { Aggregate, Fn, Op } from "../api/alerting";
import type { Line } from "../components/chartData";
import type { ChartKey } from "./instanceCharts";
import { EMPTY_RULE, type RuleForm } from "./ruleForm";

/** What a chart alerts on. */
export interface ChartSource {
  /** The rule's name, before " on <instance>". */
  name: string;
  metric: string;
  aggregate: Aggregate;
  /** The chart's unit per metric unit (the checkpoints chart shows per minute a rate per second: 60). */
  scale: number;
  /** Only the lines of this label count (the checkpoints chart draws two metrics). */
  line?: string;
  /** The denominator when the chart draws a ratio (its function: the metric's). */
  divide?: { metric: string; add: string[] };
  /** ">" (the default) starts from the highest value shown, "<" from the lowest. */
  op?: Op;
}

/** Counters (`…_total`) alert on their rate, anything else on its latest value. */
export function functionFor(metric: string): Fn {
  return metric.endsWith("_total") ? "rate" : "value";
}

/**
 * The highest value of the lines combined as `aggregate` combines series at one time (`none`:
 * each point on its own), or `null` without points.
 */
export function highest(lines: Line[], aggregate: Aggregate): number | null {
  const at = new Map<number, number[]>();
  for (const l of lines) for (const [x, y] of l.points) at.set(x, [...(at.get(x) ?? []), y]);
  let top: number | null = null;
  for (const ys of at.values()) {
    const v = aggregate === "sum" ? ys.reduce((a, b) => a + b, 0) : aggregate === "min" ? Math.min(...ys) : Math.max(...ys);
    if (top === null || v > top) top = v;
  }
  return top;
}

/**
 * A threshold people can read that the value shown does not cross: three significant digits,
 * rounded up (`up`, for ">") or down (for "<").
 */
export function roundThreshold(v: number, up = true): number {
  if (v === 0 || !Number.isFinite(v)) return 0;
  const step = 10 ** (Math.floor(Math.log10(Math.abs(v))) - 2);
  return Number(((up ? Math.ceil(v / step) : Math.floor(v / step)) * step).toPrecision(3));
}

/**
 * What a chart alerts on as it is shown: its instance total (`total`: one line that sums the
 * databases, so the rule sums them too), or each database on its own, as its lines show them.
 */
export function sourceInView(source: ChartSource, total: boolean): ChartSource {
  return total && source.aggregate === "none" && source.line === undefined ? { ...source, aggregate: "sum" } : source;
}

/** The rule form for a chart of `instance`, drawing `lines` (in the chart's unit). */
export function prefillFromChart(source: ChartSource, lines: Line[], instance: { id: string; name: string }): RuleForm {
  // The "others" line folds many databases: no one database reaches its value.
  const own = source.aggregate === "none" ? lines.filter((l) => l.others === undefined) : lines;
  const counted = source.line === undefined ? own : own.filter((l) => l.label === source.line);
  const op = source.op ?? ">";
  const fn = functionFor(source.metric);
  // The lowest value is the highest of the negated lines.
  const flip = op === "<" ? -1 : 1;
  const top = highest(counted.map((l) => ({ ...l, points: l.points.map(([x, y]): [number, number] => [x, y * flip]) })), source.aggregate);
  return {
    ...EMPTY_RULE,
    name: `${source.name} on ${instance.name}`,
    scope: "instance",
    target_id: instance.id,
    kind: "metric",
    metric: source.metric,
    fn,
    aggregate: source.aggregate,
    op,
    threshold: String(top === null ? 0 : roundThreshold((top * flip) / source.scale, op !== "<")),
    ...(source.divide
      ? { divide: true, div_metric: source.divide.metric, div_add: source.divide.add.join(", "), div_fn: fn, div_aggregate: source.aggregate }
      : {}),
  };
}

const KEYS = Object.keys(EMPTY_RULE) as (keyof RuleForm)[];

/** The query (without "?") that carries `form`: the fields that differ from an empty form. */
export function ruleQuery(form: RuleForm): string {
  const q = new URLSearchParams({ new: "1" });
  for (const k of KEYS) {
    if (form[k] === EMPTY_RULE[k]) continue;
    q.set(k, typeof form[k] === "boolean" ? (form[k] ? "1" : "0") : String(form[k]));
  }
  return q.toString();
}

/** The form a query carries (see `ruleQuery`), or `null` when it asks for no new rule. */
export function formFromQuery(query: string): RuleForm | null {
  const q = new URLSearchParams(query);
  if (q.get("new") !== "1") return null;
  const form: Record<string, string | boolean> = { ...EMPTY_RULE };
  for (const k of KEYS) {
    const v = q.get(k);
    if (v === null) continue;
    form[k] = typeof EMPTY_RULE[k] === "boolean" ? v === "1" : v;
  }
  // Enumerated fields are checked by `specOf` when the form is saved.
  return form as unknown as RuleForm;
}

/** The query part of a hash route: `#/rules?a=1` → `a=1`. */
export function hashQuery(hash: string): string {
  const i = hash.indexOf("?");
  return i < 0 ? "" : hash.slice(i + 1);
}

/** What each instance chart (see instanceCharts.ts) alerts on. */
export const CHART_SOURCES: Partial<Record<ChartKey, ChartSource>> = {
  tps: { name: "Transaction rate", metric: "pg_database_xact_commit_total", aggregate: "none", scale: 1 },
  connections: { name: "Connections", metric: "pg_activity_connections", aggregate: "sum", scale: 1 },
  // hits / (hits + reads), as the chart draws it (in %) and the built-in rule computes it.
  hit: {
    name: "Low cache hit ratio", metric: "pg_database_blks_hit_total", aggregate: "none", scale: 100, op: "<",
    divide: { metric: "pg_database_blks_hit_total", add: ["pg_database_blks_read_total"] },
  },
  size: { name: "Database size", metric: "pg_database_size_bytes", aggregate: "none", scale: 1 },
  lag: { name: "Replication lag", metric: "pg_replication_lag_bytes", aggregate: "max", scale: 1 },
  checkpoints: { name: "Requested checkpoints", metric: "pg_checkpoints_requested_total", aggregate: "none", scale: 60, line: "requested" },
  temp: { name: "Temp files written", metric: "pg_database_temp_bytes_total", aggregate: "none", scale: 1 },
  deadlocks: { name: "Deadlocks", metric: "pg_database_deadlocks_total", aggregate: "none", scale: 60 },
};
