// A chart's lines from the series the API answers, and what uPlot and the legend need of them.
// Grouped answers (`group=database&top=5` or `pick=…`) come back as one series per shown group
// plus one "others" series folding the rest; a total (`agg=sum` without `group`) as one series.
// Pure, tested in chartData.test.ts.
import { count } from "../lib/units";

export interface Line {
  label: string;
  points: [number, number][];
  /** The group value this line stands for (a database, a replica), absent for totals and others. */
  group?: string;
  /** On the line folding every group not shown: how many it folds. */
  others?: number;
}

/** A group of a grouped answer: every group, not only the shown ones, largest mean first. */
export interface Group { value: string; mean: number; last: number | null }

/**
 * The part of a series answer lines are built from (structurally a `SeriesAnswer`, with the
 * grouped fields the API adds for `group`/`top`/`pick`).
 */
export interface GroupedAnswer {
  series: { labels: Record<string, string>; points: [number, number][]; others?: number }[];
  groups?: Group[];
}

/** The label of the line folding `n` groups, called `things` ("databases"): "others (45 databases)". */
export function othersLabel(n: number, things?: string): string {
  return `others (${things ? count(n, things) : n})`;
}

/**
 * One line per series of `a` that has points: grouped by `by` (the line is that label's value,
 * "(no name)" when empty, e.g. a replica without application_name; the folding series is
 * "others (n things)", always last), or, without `by`, each named by `name`.
 */
export function linesOf(
  a: GroupedAnswer, by?: string, name: (labels: Record<string, string>) => string = () => "total", things?: string,
): Line[] {
  const shown: Line[] = [];
  const rest: Line[] = [];
  for (const s of a.series) {
    if (s.points.length === 0) continue;
    if (s.others !== undefined) rest.push({ label: othersLabel(s.others, things), points: s.points, others: s.others });
    else if (by !== undefined) shown.push({ label: s.labels[by] || "(no name)", points: s.points, group: s.labels[by] ?? "" });
    else shown.push({ label: name(s.labels), points: s.points });
  }
  return [...shown, ...rest];
}

/** The group values a grouped answer shows as their own lines, in its order (not "others"). */
export function shownGroups(a: GroupedAnswer, by: string): string[] {
  return a.series.filter((s) => s.others === undefined && s.labels[by] !== undefined).map((s) => s.labels[by]);
}

/** Each point of `lines` times `k` (rates per second shown per minute: 60). */
export function scaled(lines: Line[], k: number): Line[] {
  return k === 1 ? lines : lines.map((l) => ({ ...l, points: l.points.map(([x, y]): [number, number] => [x, y * k]) }));
}

/** What pairs a line of one answer with the same line of another: its group, others, or total. */
function keyOf(l: Line): string {
  if (l.others !== undefined) return "\u0000others";
  return l.group ?? `\u0000${l.label}`;
}

/**
 * `part / (part + rest)` in percent, line by line (the cache hit ratio: hits over hits and
 * reads), at the times both are known and not both zero. Lines are paired by group, the others
 * line with the others line, totals by their label; a line without its pair is left out.
 */
export function ratioLines(part: Line[], rest: Line[]): Line[] {
  const restBy = new Map(rest.map((l) => [keyOf(l), new Map(l.points)]));
  return part.flatMap((l) => {
    const r = restBy.get(keyOf(l));
    if (!r) return [];
    const points = l.points.flatMap(([x, p]): [number, number][] => {
      const q = r.get(x);
      return q !== undefined && p + q > 0 ? [[x, (p / (p + q)) * 100]] : [];
    });
    return points.length > 0 ? [{ ...l, points }] : [];
  });
}

/** The latest value of a line, or null without points. */
export function lastValue(l: Line): number | null {
  let at = -Infinity;
  let v: number | null = null;
  for (const [x, y] of l.points) if (x >= at) [at, v] = [x, y];
  return v;
}

/** uPlot's data for `lines` (x: unix ms in, unix seconds out). */
// uPlot wants one x array shared by every line: the union of all lines' times, with a gap
// (null) where a line has no point.
export function align(lines: Line[]): (number | null)[][] {
  const xs = Array.from(new Set(lines.flatMap((l) => l.points.map((p) => p[0])))).sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const data: (number | null)[][] = [xs.map((x) => x / 1000)];
  for (const l of lines) {
    const ys: (number | null)[] = new Array(xs.length).fill(null);
    for (const [x, y] of l.points) ys[index.get(x)!] = y;
    data.push(ys);
  }
  return data;
}

/** The smallest and largest value of `lines`, or nulls without points. */
export function extent(lines: Line[]): [number | null, number | null] {
  let lo: number | null = null;
  let hi: number | null = null;
  for (const l of lines) {
    for (const [, y] of l.points) {
      if (lo === null || y < lo) lo = y;
      if (hi === null || y > hi) hi = y;
    }
  }
  return [lo, hi];
}

/**
 * How many times the largest shown line the others line may reach and still set the y range.
 * Across 50 similar databases "others" is the sum of 45: on their scale the top 5 lie flat at 0.
 */
export const OFF_SCALE = 3;

/**
 * The y extent a chart of `lines` is drawn over: every line's, but the others line's when it
 * rises above OFF_SCALE times the largest shown line (`offScale`: it is then drawn cut off at
 * the top, and the legend says so and keeps its value).
 */
export function yExtent(lines: Line[]): { lo: number | null; hi: number | null; offScale: boolean } {
  const named = lines.filter((l) => l.others === undefined);
  const rest = lines.filter((l) => l.others !== undefined);
  const [lo, hi] = extent(named);
  const [restLo, restHi] = extent(rest);
  if (hi === null || restHi === null || restHi <= OFF_SCALE * Math.max(0, hi)) {
    const [allLo, allHi] = extent(lines);
    return { lo: allLo, hi: allHi, offScale: false };
  }
  // The others line's low points still count when they are below the shown lines.
  return { lo: restLo !== null && lo !== null ? Math.min(lo, restLo) : lo, hi, offScale: true };
}

/**
 * Line colours: 20 that tell apart on white (Kelly's colours of maximum contrast, without white,
 * black-ish greys and the lightest), strongest first — a top 5 uses the first five, up to 20
 * picked databases all of them.
 */
export const PALETTE = [
  "#0067a5", "#be0032", "#008856", "#f38400", "#875692",
  "#2b3d26", "#e68fac", "#882d17", "#8db600", "#604e97",
  "#f6a600", "#b3446c", "#1f1f1f", "#e25822", "#654522",
  "#a1caf1", "#c2b280", "#dcd300", "#f99379", "#0891b2",
];

/** The "others" line: grey, dashed, behind the named ones. */
export const OTHERS_COLOUR = "#94a3b8";

/** The colour of each line: the palette in order, "others" grey. */
export function colours(lines: Line[]): string[] {
  let n = 0;
  return lines.map((l) => (l.others !== undefined ? OTHERS_COLOUR : PALETTE[n++ % PALETTE.length]));
}
