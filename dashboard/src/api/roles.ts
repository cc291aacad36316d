// Who may do what, as the server's route table says (api/src/http/mod.rs): `admin` ⊃ `editor`
// ⊃ `viewer`. The dashboard only hides what a role cannot do; the server refuses it anyway.
import type { Role } from "./types";

export const ROLES: readonly Role[] = ["viewer", "editor", "admin"];

/** Whether a user with role `mine` (none: signed out) may do what needs `needed`. */
export function allows(mine: Role | null | undefined, needed: Role): boolean {
  return !!mine && ROLES.indexOf(mine) >= ROLES.indexOf(needed);
}

/**
 * The actions the dashboard offers, each with the route it calls and the role that route
 * needs (a test checks these against the OpenAPI document's `x-pga-access`).
 */
export const ACTIONS = {
  addInstance: { route: "POST /managed-instances", role: "editor" },
  editInstance: { route: "PUT /managed-instances/{id}", role: "editor" },
  removeInstance: { route: "DELETE /managed-instances/{id}", role: "editor" },
  testConnection: { route: "POST /managed-instances/{id}/test-connection", role: "editor" },
  deleteCollector: { route: "DELETE /collectors/{id}", role: "admin" },
  createSecret: { route: "POST /registration-secrets", role: "admin" },
  createRule: { route: "POST /alert-rules", role: "editor" },
  editRule: { route: "PUT /alert-rules/{id}", role: "editor" },
  enableRule: { route: "POST /alert-rules/{id}/enable", role: "editor" },
  disableRule: { route: "POST /alert-rules/{id}/disable", role: "editor" },
  deleteRule: { route: "DELETE /alert-rules/{id}", role: "editor" },
  acknowledgeAlert: { route: "POST /alerts/{id}/acknowledge", role: "editor" },
  createSilence: { route: "POST /silences", role: "editor" },
  expireSilence: { route: "DELETE /silences/{id}", role: "editor" },
  createChannel: { route: "POST /notification-channels", role: "admin" },
  editChannel: { route: "PUT /notification-channels/{id}", role: "admin" },
  deleteChannel: { route: "DELETE /notification-channels/{id}", role: "admin" },
} as const satisfies Record<string, { route: string; role: Role }>;

export type Action = keyof typeof ACTIONS;
