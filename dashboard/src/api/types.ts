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

// Issue 19, the instance views: GET /metrics/latest's rows, and /queries/top's statements (whose
// `trend` /queries/top always gives: 24 buckets of `[bucket start unix ms, calls, time ms]`).
export type LatestRow = Schemas["LatestRow"];
export type LatestAnswer = Schemas["LatestAnswer"];
export type TopStatement = Statement & { trend: NonNullable<Statement["trend"]> };
