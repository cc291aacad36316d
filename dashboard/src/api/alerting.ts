// The alerting API's wire types (rules, alerts, silences, notification channels, deliveries), as
// the contract of issue 17 gives them (docs: notes/alerting-api.md). Written by hand: schema.ts
// is generated from openapi.json, which the server's own test writes, so the alerting routes
// reach it only with the server that serves them. Once they are there, these names can become
// aliases of `components["schemas"][…]` like the ones in types.ts.

export type Severity = "info" | "warning" | "critical";
export const SEVERITIES: readonly Severity[] = ["info", "warning", "critical"];

export type Fn = "value" | "rate" | "increase";
export type Aggregate = "none" | "sum" | "max" | "min";
export type Op = ">" | ">=" | "<" | "<=" | "==" | "!=";
export const FUNCTIONS: readonly Fn[] = ["value", "rate", "increase"];
export const AGGREGATES: readonly Aggregate[] = ["none", "sum", "max", "min"];
export const OPS: readonly Op[] = [">", ">=", "<", "<=", "==", "!="];

export type Labels = Record<string, string>;

/**
 * Series of one metric and what is computed from them: one side of a metric condition, or the
 * denominator of a ratio (`divide_by`). `add` is beyond the contract, seen in the server's
 * domain (domain/src/alerting/spec.rs, used by the built-in cache-hit-ratio rule): up to 4 more
 * metrics added series by series (`blks_hit + blks_read`); absent when empty.
 */
export interface Operand { metric: string; add?: string[]; labels: Labels; function: Fn; aggregate: Aggregate }

export type Condition =
  | (Operand & { kind: "metric"; window_secs: number; divide_by: Operand | null; op: Op; threshold: number })
  /** "Down": no data from the target for `after_secs`. */
  | { kind: "silent"; target: "collector" | "instance"; after_secs: number }
  /** The instance's connection status is `error` or `invalid_credentials`. */
  | { kind: "connection_status" };

export type Scope =
  | { kind: "all" }
  | { kind: "tag"; tag: string }
  | { kind: "instance"; id: string }
  | { kind: "collector"; id: string };

export interface RuleSpec {
  name: string;
  severity: Severity;
  condition: Condition;
  for_secs: number;
  scope: Scope;
  /** A template: {{rule}} {{value}} {{threshold}} {{instance}} {{collector}} {{labels}}; may be "". */
  message: string;
}

export interface Rule extends RuleSpec {
  id: string;
  /** The built-in rule this is (e.g. "pg_down"): it can be edited and disabled, not deleted. */
  builtin: string | null;
  enabled: boolean;
  version: number;
  created_at: string;
  updated_at: string;
  /** Alerts of this rule firing now. */
  firing: number;
}

export type AlertState = "pending" | "firing" | "resolved";

export interface Alert {
  id: string;
  rule_id: string;
  rule_name: string;
  severity: Severity;
  state: AlertState;
  labels: Labels;
  instance_id: string | null;
  instance_name: string | null;
  collector_id: string | null;
  value: number | null;
  summary: string;
  /** When the current state began. */
  since: string;
  fired_at: string | null;
  resolved_at: string | null;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  ack_comment: string | null;
  silenced_by: string | null;
}

export interface Transition {
  sequence: number;
  event: "pending" | "firing" | "resolved" | "cleared" | "acknowledged" | "unsilenced";
  value: number | null;
  rule_version: number | null;
  at: string;
  actor: string | null;
  detail: string | null;
}

export interface AlertWithHistory extends Alert { history: Transition[] }

export interface Matcher { name: string; op: "=" | "!="; value: string }

export interface NewSilence { matchers: Matcher[]; ends_at: string; comment: string }

export interface Silence extends NewSilence {
  id: string;
  starts_at: string;
  created_by: string;
  active: boolean;
}

interface ChannelCommon { name: string; min_severity: Severity; enabled: boolean }
export type TlsMode = "starttls" | "tls" | "none";

export type ChannelSpec = ChannelCommon & (
  | { kind: "alertmanager"; url: string }
  /** `secret` (the HMAC key) is write-only; left out of a PUT, the stored one stays. */
  | { kind: "webhook"; url: string; secret?: string }
  | {
      kind: "email"; host: string; port: number; tls: TlsMode; from: string; to: string[];
      username: string | null; password?: string | null;
    }
);

export type ChannelKind = ChannelSpec["kind"];

/** A channel as the server shows it: never its secret or password. */
export type Channel = ChannelCommon & { id: string; has_secret: boolean; created_at: string } & (
  | { kind: "alertmanager"; url: string }
  | { kind: "webhook"; url: string }
  | { kind: "email"; host: string; port: number; tls: TlsMode; from: string; to: string[]; username: string | null }
);

export interface Delivery {
  id: string;
  alert_id: string;
  channel_id: string;
  channel_name: string;
  kind: "firing" | "resolved";
  status: "pending" | "delivered" | "failed";
  attempts: number;
  next_attempt_at: string | null;
  delivered_at: string | null;
  last_error: string | null;
  created_at: string;
  history: { attempt: number; at: string; outcome: "delivered" | "failed"; detail: string | null }[];
}

export interface RuleList { rules: Rule[] }
export interface AlertList { alerts: Alert[] }
export interface SilenceList { silences: Silence[] }
export interface ChannelList { channels: Channel[] }
export interface DeliveryList { notifications: Delivery[] }
