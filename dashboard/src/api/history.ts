// The wire types of issue 18: the audit trail, each entity's versions (history, diff, as_of) and
// the fleet overview. Names for the generated types (schema.ts, from the server's openapi.json),
// narrowed where the document is looser than the contract: a state is an object (or none), a
// status and a severity are one of a few words.
import type { components } from "./schema";

type Schemas = components["schemas"];

/** The aggregate types the audit trail names (`aggregate_type`). */
export const AGGREGATE_TYPES = [
  "user", "managed_instance", "collector", "registration_secret", "alert_rule", "alert", "silence", "notification_channel",
] as const;

/** One domain event as the audit trail shows it (GET /audit), newest first; `cursor` pages on (`before=`). */
export type AuditEntry = Schemas["AuditEntry"];

/** An entity's state as the API shows it (GET /{resource}/{id}): field → value. */
export type EntityState = Record<string, unknown>;

/**
 * One version of an entity (GET /{resource}/{id}/history), oldest first: valid from
 * `valid_from` until `valid_to` (none: current); no `state` once removed; `changed` names the
 * fields its event changed.
 */
export type Version = Omit<Schemas["Version2"], "state"> & { state: EntityState | null };

/** `more`: older versions exist than those answered (the page holds the newest). */
export interface HistoryAnswer { versions: Version[]; more: boolean }

/** The resources whose versions the API keeps, by their path. */
export type HistoryResource = "managed-instances" | "collectors" | "users" | "registration-secrets" | "alert-rules";

export type DiffAnswer = Omit<Schemas["Diff"], "from_state" | "to_state"> & { from_state: EntityState | null; to_state: EntityState | null };

export type FleetStatus = "connected" | "error" | "invalid_credentials" | "unknown";

/**
 * One row of the fleet overview (GET /fleet): `cache_hit_ratio` is 0..1; the sparklines have
 * one point a minute over the last hour, oldest first.
 */
export type FleetInstance = Omit<Schemas["FleetInstance"], "status" | "firing_severity"> & {
  status: FleetStatus;
  firing_severity: "critical" | "warning" | "info" | null;
};

export type FleetAnswer = Omit<Schemas["Fleet"], "instances"> & { instances: FleetInstance[] };
