// The alert-rule form: its fields as typed, the RuleSpec they become (checked the way the server
// checks it, so most mistakes are named before a round trip), and back. Pure, tested in
// ruleForm.test.ts.
import {
  AGGREGATES, FUNCTIONS, OPS, SEVERITIES,
  type Aggregate, type Condition, type Fn, type Labels, type Op, type Operand, type RuleSpec, type Scope, type Severity,
} from "../api/alerting";

export interface RuleForm {
  name: string;
  severity: Severity;
  /** Seconds the condition must hold before the alert fires. */
  for_secs: string;
  message: string;
  scope: Scope["kind"];
  /** The tag of a `tag` scope. */
  tag: string;
  /** The instance or collector id of such a scope. */
  target_id: string;
  kind: Condition["kind"];
  // A metric condition.
  metric: string;
  /** Metrics added to it series by series, as typed: `pg_database_blks_read_total, …`. */
  add: string;
  /** Label filters as typed: `state=active, database=app`. */
  labels: string;
  fn: Fn;
  window_secs: string;
  aggregate: Aggregate;
  op: Op;
  threshold: string;
  /** Whether the metric is divided by a second one (a ratio). */
  divide: boolean;
  div_metric: string;
  div_add: string;
  div_labels: string;
  div_fn: Fn;
  div_aggregate: Aggregate;
  // A silence ("down") condition.
  target: "collector" | "instance";
  after_secs: string;
}

export const EMPTY_RULE: RuleForm = {
  name: "", severity: "warning", for_secs: "300", message: "",
  scope: "all", tag: "", target_id: "",
  kind: "metric", metric: "", add: "", labels: "", fn: "value", window_secs: "300", aggregate: "none", op: ">", threshold: "",
  divide: false, div_metric: "", div_add: "", div_labels: "", div_fn: "value", div_aggregate: "none",
  target: "instance", after_secs: "300",
};

/** Label filters as the form shows them: `k=v, k2=v2`. */
export function labelsText(labels: Labels): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(", ");
}

// The server's bounds (domain/src/alerting/spec.rs, metrics/bounds.rs); its lengths are in bytes.
const MAX_NAME = 100;
const MAX_MESSAGE = 1000;
const MAX_TAG = 64;
const MAX_FILTERS = 16;
const MAX_ADD = 4;
const MAX_FOR = 7 * 86400;
const bytes = (t: string) => new TextEncoder().encode(t).length;

const LABEL = /^[A-Za-z_][A-Za-z0-9_]*$/;
const METRIC = /^[A-Za-z_:][A-Za-z0-9_:]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Typed label filters as a map, or what is wrong with them. Values cannot hold a comma. */
export function parseLabels(text: string): Labels | string {
  const labels: Labels = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq < 0) return `"${part}" is not name=value`;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
    if (!LABEL.test(name)) return `"${name}" is not a label name`;
    if (name in labels) return `${name} is given twice`;
    if (bytes(name) > 128 || bytes(value) > 1024) return `${name}: names are at most 128 bytes, values 1024`;
    labels[name] = value;
  }
  if (Object.keys(labels).length > MAX_FILTERS) return `at most ${MAX_FILTERS} filters`;
  return labels;
}

/** Typed added metrics (`a, b`) as a list, or what is wrong with them. */
export function parseAdd(text: string): string[] | string {
  const names = text.split(/[\s,+]+/).filter(Boolean);
  const bad = names.find((n) => !METRIC.test(n));
  if (bad) return `"${bad}" is not a metric name`;
  if (names.length > MAX_ADD) return `at most ${MAX_ADD} metrics`;
  return names;
}

/** One operand as the API takes it: `add` only when there is something to add. */
function operand(metric: string, add: string[], labels: Labels, fn: Fn, aggregate: Aggregate): Operand {
  return { metric, ...(add.length ? { add } : {}), labels, function: fn, aggregate };
}

/** The form filled in with a rule, to edit it. */
export function formOfRule(r: RuleSpec): RuleForm {
  const f: RuleForm = {
    ...EMPTY_RULE,
    name: r.name, severity: r.severity, for_secs: String(r.for_secs), message: r.message, scope: r.scope.kind,
    tag: r.scope.kind === "tag" ? r.scope.tag : "",
    target_id: r.scope.kind === "instance" || r.scope.kind === "collector" ? r.scope.id : "",
    kind: r.condition.kind,
  };
  const c = r.condition;
  if (c.kind === "metric") {
    Object.assign(f, {
      metric: c.metric, add: (c.add ?? []).join(", "), labels: labelsText(c.labels), fn: c.function, window_secs: String(c.window_secs),
      aggregate: c.aggregate, op: c.op, threshold: String(c.threshold), divide: c.divide_by !== null,
    });
    if (c.divide_by) {
      Object.assign(f, {
        div_metric: c.divide_by.metric, div_add: (c.divide_by.add ?? []).join(", "), div_labels: labelsText(c.divide_by.labels),
        div_fn: c.divide_by.function, div_aggregate: c.divide_by.aggregate,
      });
    }
  } else if (c.kind === "silent") {
    Object.assign(f, { target: c.target, after_secs: String(c.after_secs) });
  }
  return f;
}

export type FieldErrors = Partial<Record<keyof RuleForm, string>>;
export type Checked = { ok: true; spec: RuleSpec } | { ok: false; errors: FieldErrors };

/** A whole number of seconds in `[min, max]`, or what is wrong with it. */
function seconds(text: string, min: number, max: number): number | string {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return "must be a whole number of seconds";
  const n = Number(t);
  if (n < min) return `must be at least ${min}`;
  if (n > max) return `must be at most ${max}`;
  return n;
}

const oneOf = <T,>(list: readonly T[], v: T) => list.includes(v);

/** The RuleSpec the form says, or each field's mistake (keyed by the form's field names). */
export function specOf(f: RuleForm): Checked {
  const errors: FieldErrors = {};
  const name = f.name.trim();
  if (!name) errors.name = "is required";
  else if (bytes(name) > MAX_NAME) errors.name = `must be at most ${MAX_NAME} bytes`;
  else if (/\p{Cc}/u.test(name)) errors.name = "must hold no control characters";
  if (bytes(f.message) > MAX_MESSAGE) errors.message = `must be at most ${MAX_MESSAGE} bytes`;
  if (!oneOf(SEVERITIES, f.severity)) errors.severity = "must be info, warning or critical";
  const forSecs = seconds(f.for_secs, 0, MAX_FOR);
  if (typeof forSecs === "string") errors.for_secs = forSecs;

  let scope: Scope = { kind: "all" };
  if (f.scope === "tag") {
    if (!f.tag.trim()) errors.tag = "is required";
    else if (bytes(f.tag.trim()) > MAX_TAG) errors.tag = `must be at most ${MAX_TAG} bytes`;
    scope = { kind: "tag", tag: f.tag.trim() };
  } else if (f.scope === "instance" || f.scope === "collector") {
    if (!UUID.test(f.target_id)) errors.target_id = `choose the ${f.scope}`;
    scope = { kind: f.scope, id: f.target_id };
  } else if (f.scope !== "all") {
    errors.scope = "is not a scope";
  }

  let condition: Condition = { kind: "connection_status" };
  if (f.kind === "metric") {
    if (!METRIC.test(f.metric.trim())) errors.metric = f.metric.trim() ? "is not a metric name" : "is required";
    const labels = parseLabels(f.labels);
    if (typeof labels === "string") errors.labels = labels;
    const add = parseAdd(f.add);
    if (typeof add === "string") errors.add = add;
    if (!oneOf(FUNCTIONS, f.fn)) errors.fn = "must be value, rate or increase";
    const window = seconds(f.window_secs, 60, 86400);
    if (typeof window === "string") errors.window_secs = window;
    if (!oneOf(AGGREGATES, f.aggregate)) errors.aggregate = "must be none, sum, max or min";
    if (!oneOf(OPS, f.op)) errors.op = "is not a comparison";
    const threshold = Number(f.threshold.trim());
    if (f.threshold.trim() === "" || !Number.isFinite(threshold)) errors.threshold = "must be a number";
    let divideBy = null;
    if (f.divide) {
      if (!METRIC.test(f.div_metric.trim())) errors.div_metric = f.div_metric.trim() ? "is not a metric name" : "is required";
      const divLabels = parseLabels(f.div_labels);
      if (typeof divLabels === "string") errors.div_labels = divLabels;
      const divAdd = parseAdd(f.div_add);
      if (typeof divAdd === "string") errors.div_add = divAdd;
      if (!oneOf(FUNCTIONS, f.div_fn)) errors.div_fn = "must be value, rate or increase";
      if (!oneOf(AGGREGATES, f.div_aggregate)) errors.div_aggregate = "must be none, sum, max or min";
      divideBy = operand(
        f.div_metric.trim(), typeof divAdd === "string" ? [] : divAdd, typeof divLabels === "string" ? {} : divLabels,
        f.div_fn, f.div_aggregate,
      );
    }
    condition = {
      kind: "metric",
      ...operand(f.metric.trim(), typeof add === "string" ? [] : add, typeof labels === "string" ? {} : labels, f.fn, f.aggregate),
      window_secs: typeof window === "number" ? window : 0, divide_by: divideBy, op: f.op, threshold,
    };
  } else if (f.kind === "silent") {
    const after = seconds(f.after_secs, 30, MAX_FOR);
    if (typeof after === "string") errors.after_secs = after;
    if (f.target !== "instance" && f.target !== "collector") errors.target = "must be instance or collector";
    condition = { kind: "silent", target: f.target, after_secs: typeof after === "number" ? after : 0 };
  } else if (f.kind !== "connection_status") {
    errors.kind = "is not a condition";
  }

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    spec: { name, severity: f.severity, condition, for_secs: forSecs as number, scope, message: f.message },
  };
}

/** What the form's fields are called on screen, to name them in error messages. */
export const FIELD_NAMES: Record<keyof RuleForm, string> = {
  name: "Name", severity: "Severity", for_secs: "For", message: "Message", scope: "Scope", tag: "Tag",
  target_id: "Scope", kind: "Condition", metric: "Metric", add: "Plus metrics", labels: "Label filters", fn: "Function",
  window_secs: "Window", aggregate: "Aggregate", op: "Operator", threshold: "Threshold", divide: "Divide by",
  div_metric: "Divisor metric", div_add: "Divisor plus metrics", div_labels: "Divisor label filters", div_fn: "Divisor function",
  div_aggregate: "Divisor aggregate", target: "Target", after_secs: "After",
};

/** The form's mistakes in words, one per field: "Threshold: must be a number". */
export function errorText(errors: FieldErrors): string {
  return Object.entries(errors).map(([k, v]) => `${FIELD_NAMES[k as keyof RuleForm]}: ${v}`).join("; ");
}
