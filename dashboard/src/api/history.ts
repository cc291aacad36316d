// The wire types of issue 18: the audit trail, each entity's versions (history, diff, as_of) and
// the fleet overview. Written by hand from the contract, like alerting.ts: schema.ts is
// generated from openapi.json, which the server's own test writes, so these routes reach it
// only with the server that serves them. Then these can become aliases like those in types.ts.

/** The aggregate types the audit trail names (`aggregate_type`). */
export const AGGREGATE_TYPES = [
  "user", "managed_instance", "collector", "registration_secret", "alert_rule", "alert", "silence", "notification_channel",
] as const;

/** One domain event as the audit trail shows it (GET /audit), newest first. */
export interface AuditEntry {
  aggregate_type: string;
  aggregate_id: string;
  sequence: number;
  event_type: string;
  summary: string;
  actor_kind: string | null;
  actor_id: string | null;
  actor_name: string | null;
  recorded_at: string;
  /** Pass as `before=` for the next (older) page. */
  cursor: string;
}

/** An entity's state as the API shows it (GET /{resource}/{id}): field → value. */
export type EntityState = Record<string, unknown>;

/** One version of an entity (GET /{resource}/{id}/history), oldest first. */
export interface Version {
  sequence: number;
  event_type: string;
  summary: string;
  actor_kind: string | null;
  actor_name: string | null;
  valid_from: string;
  /** None: the current version. */
  valid_to: string | null;
  /** None: removed by this event. */
  state: EntityState | null;
  /** The fields this event changed. */
  changed: string[];
}

export interface HistoryAnswer { versions: Version[] }

/** The resources whose versions the API keeps, by their path. */
export type HistoryResource = "managed-instances" | "collectors" | "users" | "registration-secrets" | "alert-rules";

export interface DiffAnswer {
  from_state: EntityState | null;
  to_state: EntityState | null;
  changes: { field: string; from: unknown; to: unknown }[];
  events: { sequence: number; event_type: string; summary: string; actor_name: string | null; recorded_at: string; changed: string[] }[];
}

export type FleetStatus = "connected" | "error" | "invalid_credentials" | "unknown";

/** One row of the fleet overview (GET /fleet). */
export interface FleetInstance {
  id: string;
  name: string;
  tags: string[];
  status: FleetStatus;
  last_error: string | null;
  last_heartbeat: string | null;
  last_sample_at: string | null;
  tps: number | null;
  connections: number | null;
  max_connections: number | null;
  /** 0..1. */
  cache_hit_ratio: number | null;
  replication_lag_s: number | null;
  database_size_bytes: number | null;
  /** One point a minute over the last hour, oldest first. */
  spark_tps: (number | null)[];
  spark_connections: (number | null)[];
  firing: number;
  firing_severity: "critical" | "warning" | "info" | null;
}

export interface FleetAnswer { generated_at: string; instances: FleetInstance[] }
