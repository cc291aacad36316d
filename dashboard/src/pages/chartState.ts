// What a reloading chart shows, per view (a view: the chart, its lines, the picks, the instance
// and the range). Lines belong to the view they were loaded for: once the range, the lines or the
// picks change, the old lines go (a placeholder of the same size shows until the new ones come),
// and an error is always shown when the last load failed — beside the lines only when they are
// the same view's, from the refresh before. Pure, tested in chartState.test.ts.
import type { TimeRange } from "../lib/timeRange";

export interface ChartState<D> {
  /** The view the state belongs to (see `viewKey`). */
  view: string;
  /** The last lines loaded for this view, or null: none yet. */
  drawn: D | null;
  /** Why the last load of this view failed, or null when it did not. */
  error: string | null;
}

/** A view's key: what changes the lines (a moving range by its length, a fixed one by its ends). */
export function viewKey(parts: (string | number)[], range: TimeRange): string {
  const span = range.key === "custom" ? `${range.from}-${range.to}` : `${range.key}:${range.to - range.from}`;
  return JSON.stringify([...parts, span]);
}

/** Nothing loaded yet for `view`. */
export function fresh<D>(view: string): ChartState<D> {
  return { view, drawn: null, error: null };
}

/** What `view` shows from `s`: its own lines and error, nothing of another view's. */
export function shownFor<D>(s: ChartState<D>, view: string): ChartState<D> {
  return s.view === view ? s : fresh(view);
}

/** `s` after a load of `view` ended: new lines, or the error beside this view's previous lines. */
export function afterLoad<D>(s: ChartState<D>, view: string, o: { ok: true; value: D } | { ok: false; error: string }): ChartState<D> {
  const own = shownFor(s, view);
  return o.ok ? { view, drawn: o.value, error: null } : { ...own, error: o.error };
}
