import { describe, expect, it } from "vitest";
import openapi from "./openapi.json";
import { ACTIONS, allows, ROLES } from "./roles";

/** The role the server's route table requires for `route` ("METHOD /path"). */
function serverRole(route: string): string {
  const [method, path] = route.split(" ");
  const paths = openapi.paths as Record<string, Record<string, { "x-pga-access"?: string }>>;
  const op = paths[`/api/v1${path}`]?.[method.toLowerCase()];
  if (!op) throw new Error(`no route ${route} in openapi.json`);
  return op["x-pga-access"] ?? "";
}

describe("allows", () => {
  it("orders the roles admin ⊃ editor ⊃ viewer", () => {
    for (const mine of ROLES) {
      for (const needed of ROLES) {
        expect(allows(mine, needed), `${mine} for ${needed}`).toBe(ROLES.indexOf(mine) >= ROLES.indexOf(needed));
      }
    }
    expect(allows("editor", "viewer")).toBe(true);
    expect(allows("editor", "admin")).toBe(false);
  });

  it("allows nothing when signed out", () => {
    expect(allows(null, "viewer")).toBe(false);
    expect(allows(undefined, "viewer")).toBe(false);
  });
});

describe("ACTIONS", () => {
  it("offers each action to exactly the roles the server lets call its route", () => {
    for (const [name, { route, role }] of Object.entries(ACTIONS)) {
      expect(role, name).toBe(serverRole(route));
    }
  });

  it("shows a viewer no action, an editor the instance, rule, alert and silence ones, an admin all", () => {
    const shown = (mine: (typeof ROLES)[number]) =>
      Object.entries(ACTIONS).filter(([, a]) => allows(mine, a.role)).map(([n]) => n).sort();
    expect(shown("viewer")).toEqual([]);
    expect(shown("editor")).toEqual([
      "acknowledgeAlert", "addInstance", "createRule", "createSilence", "deleteRule", "disableRule", "editInstance",
      "editRule", "enableRule", "expireSilence", "removeInstance", "testConnection",
    ]);
    expect(shown("admin")).toEqual(Object.keys(ACTIONS).sort());
  });
});
