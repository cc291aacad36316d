import { describe, expect, it } from "vitest";
import type { Version } from "../api/history";
import { asOf, fieldRows, fieldText, span } from "./historyView";

const version = (sequence: number, at: string, state: Version["state"], changed: string[] = []): Version => ({
  sequence, event_type: "E", summary: "", actor_kind: "user", actor_name: "admin", valid_from: at, valid_to: null, state, changed,
});

const versions = [
  version(1, "2026-12-03T10:00:00Z", { name: "db", tags: ["e2e"] }, ["name", "tags"]),
  version(2, "2026-12-03T11:00:00Z", { name: "db", tags: ["e2e", "prod"] }, ["tags"]),
  version(3, "2026-12-03T12:00:00Z", null),
];
const at = (iso: string) => new Date(iso).getTime();

describe("asOf", () => {
  it("is nothing before the first version", () => {
    expect(asOf(versions, at("2026-12-03T09:59:59Z"))).toEqual({ kind: "before" });
  });

  it("is the version in force, from its first instant on", () => {
    expect(asOf(versions, at("2026-12-03T10:00:00Z"))).toMatchObject({ kind: "state", index: 0 });
    expect(asOf(versions, at("2026-12-03T11:59:59Z"))).toMatchObject({ kind: "state", index: 1, state: { tags: ["e2e", "prod"] } });
  });

  it("says removed once a version has no state", () => {
    expect(asOf(versions, at("2026-12-04T00:00:00Z"))).toMatchObject({ kind: "removed", index: 2 });
  });
});

describe("fieldRows", () => {
  it("marks the fields that changed since the previous version, with their earlier value", () => {
    expect(fieldRows(versions[1].state!, versions[0].state, versions[1].changed)).toEqual([
      { field: "name", value: "db", changed: false },
      { field: "tags", value: "e2e, prod", changed: true, before: "e2e" },
    ]);
  });

  it("marks what the first version's event set, with nothing before it", () => {
    expect(fieldRows(versions[0].state!, null, ["name"])).toEqual([
      { field: "name", value: "db", changed: true },
      { field: "tags", value: "e2e", changed: false },
    ]);
  });
});

describe("fieldText", () => {
  it("shows none, lists, objects and scalars in words", () => {
    expect(fieldText(null)).toBe("–");
    expect(fieldText([])).toBe("(none)");
    expect(fieldText({ kind: "all" })).toBe('{"kind":"all"}');
    expect(fieldText(5)).toBe("5");
    expect(fieldText(false)).toBe("false");
  });
});

describe("span", () => {
  it("runs from the first version to now", () => {
    expect(span(versions, at("2026-12-05T00:00:00Z"))).toEqual({ min: at("2026-12-03T10:00:00Z"), max: at("2026-12-05T00:00:00Z") });
    expect(span([], 5)).toEqual({ min: 5, max: 5 });
  });
});
