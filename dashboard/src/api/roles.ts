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
} as const satisfies Record<string, { route: string; role: Role }>;

export type Action = keyof typeof ACTIONS;
