// Which collectors report a managed instance, for the page's header. A collector may watch
// several servers, so its `last_instance` flips between them: the binding (`instance_ids`, from
// its registration secret) says which may report this one. Pure, tested in reporters.test.ts.
import type { Collector } from "../../api/types";

/** The collectors bound to the instance that have been seen, the one that reported it last first, then by name. */
export function reporters(collectors: readonly Collector[], instance: { id: string; name: string }): Collector[] {
  return collectors
    .filter((c) => (c.instance_ids.includes(instance.id) || c.last_instance === instance.name) && c.last_seen !== null)
    .sort((a, b) => Number(b.last_instance === instance.name) - Number(a.last_instance === instance.name) || a.name.localeCompare(b.name));
}
