// Names for the wire types the dashboard uses. They are generated (schema.ts) from the
// server's OpenAPI document (openapi.json), which a server test keeps equal to what the
// server serves: change a response struct in api/src/http/, then run
// `PGA_UPDATE_OPENAPI=1 cargo test -p api openapi` and `npm run api:types`.
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Role = Schemas["Role"];
export type SessionUser = Schemas["SessionUser"];
export type TokenPair = Schemas["TokenPair"];
export type LiveTicket = Schemas["LiveTicket"];

export type User = Schemas["User"];
export type NewUser = Schemas["NewUser"];
export type UserChange = Schemas["UserChange"];

export type Instance = Schemas["Instance"];
export type NewInstance = Schemas["NewInstance"];
export type InstanceChange = Schemas["InstanceChange"];
export type ConnectionTestResult = Schemas["ConnectionTestResult"];

export type RegistrationSecret = Schemas["RegistrationSecret"];
export type NewRegistrationSecret = Schemas["NewRegistrationSecret"];

export type Collector = Schemas["Collector"];

export type Series = Schemas["Series"];
export type SeriesAnswer = Schemas["SeriesAnswer"];
export type Statement = Schemas["Statement"];

// Issue 19, the instance views (helper B): GET /metrics/latest and GET /collectors/{id}/queries/top,
// declared by hand until the server's OpenAPI document has them (then: Schemas["…"]).
/** One row of /metrics/latest: the series of the asked metrics that share these labels. */
export interface LatestRow {
  labels: Record<string, string>;
  /** Unix ms of the row's newest sample. */
  ts: number;
  /** The newest sample of each metric. */
  values: Record<string, number>;
  /** Counters: per-second increase over the window, when there are two samples or more. */
  rates: Record<string, number>;
  /** With `spark`: up to 30 `[unix ms, value]` points of that metric over the window. */
  spark?: [number, number][];
}
export interface LatestAnswer { at: string; within_s: number; truncated: boolean; rows: LatestRow[] }
/** A statement of /queries/top, with `[bucket start unix ms, calls, total time ms]` over the range. */
export type TopStatement = Statement & { trend: [number, number, number][] };
