// What an entity's History tab shows: the version in force at an instant and its fields, the
// changed ones marked. Pure functions over GET /{resource}/{id}/history, tested beside.
import type { EntityState, Version } from "../api/history";

/** What the entity was at an instant: not yet created, removed, or one of its versions. */
export type AsOf =
  | { kind: "before" }
  | { kind: "removed"; version: Version; index: number }
  | { kind: "state"; version: Version; index: number; state: EntityState };

/** The version in force at `ms` (the last one whose `valid_from` is not after it). */
export function asOf(versions: readonly Version[], ms: number): AsOf {
  let index = -1;
  for (let i = 0; i < versions.length; i++) {
    if (new Date(versions[i].valid_from).getTime() <= ms) index = i;
    else break;
  }
  if (index < 0) return { kind: "before" };
  const version = versions[index];
  return version.state ? { kind: "state", version, index, state: version.state } : { kind: "removed", version, index };
}

/** A field's value in words: "–" for none, lists joined, objects as JSON. */
export function fieldText(v: unknown): string {
  if (v === null || v === undefined) return "–";
  if (Array.isArray(v)) return v.length === 0 ? "(none)" : v.map(fieldText).join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export interface FieldRow { field: string; value: string; changed: boolean; before?: string }

/**
 * The fields of `state`, in its order, each marked changed when this version's event says so or
 * its value differs from the previous version's (the earlier value kept in `before`).
 */
export function fieldRows(state: EntityState, previous: EntityState | null, changed: readonly string[]): FieldRow[] {
  return Object.keys(state).map((field) => {
    const value = fieldText(state[field]);
    const was = previous ? fieldText(previous[field]) : undefined;
    const differs = previous !== null && was !== value;
    return {
      field,
      value,
      changed: changed.includes(field) || differs,
      ...(differs ? { before: was } : {}),
    };
  });
}

/** The slider's span: from the first version to now (or the last version, if later). */
export function span(versions: readonly Version[], now: number): { min: number; max: number } {
  if (versions.length === 0) return { min: now, max: now };
  const first = new Date(versions[0].valid_from).getTime();
  const last = new Date(versions[versions.length - 1].valid_from).getTime();
  return { min: first, max: Math.max(now, last) };
}
