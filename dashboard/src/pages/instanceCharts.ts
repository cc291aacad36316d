// The instance page's charts from the series the API answers: which lines, how they are
// labelled and combined, and in which unit. Pure, tested in instanceCharts.test.ts.
import type { SeriesAnswer } from "../api/types";
import type { Line } from "../components/chartData";
import { toMiB } from "../lib/format";

type Labels = Record<string, string>;

/** One line per series that has points, labelled by `label`. */
export function lines(a: SeriesAnswer, label: (l: Labels) => string): Line[] {
  return a.series.map((s) => ({ label: label(s.labels), points: s.points })).filter((l) => l.points.length > 0);
}

/** Sums lines with the same label (e.g. connections by state over databases). */
export function merge(ls: Line[]): Line[] {
  const by = new Map<string, Map<number, number>>();
  for (const l of ls) {
    const m = by.get(l.label) ?? new Map();
    for (const [x, y] of l.points) m.set(x, (m.get(x) ?? 0) + y);
    by.set(l.label, m);
  }
  return [...by].map(([label, m]) => ({ label, points: [...m].sort((a, b) => a[0] - b[0]) }));
}

const db = (l: Labels) => l.database ?? "";

/** Cache hit ratio (%) per database, from the two block rates at the same times. */
export function hitRatio(hits: SeriesAnswer, reads: SeriesAnswer): Line[] {
  const readBy = new Map(reads.series.map((s) => [db(s.labels), new Map(s.points)]));
  return hits.series.map((s) => {
    const r = readBy.get(db(s.labels));
    return {
      label: db(s.labels),
      points: s.points.flatMap(([x, h]): [number, number][] => {
        const rd = r?.get(x);
        return rd !== undefined && h + rd > 0 ? [[x, (h / (h + rd)) * 100]] : [];
      }),
    };
  }).filter((l) => l.points.length > 0);
}

/** The series each chart is drawn from. */
export interface Answers {
  commits: SeriesAnswer; conns: SeriesAnswer; hits: SeriesAnswer; reads: SeriesAnswer;
  size: SeriesAnswer; lag: SeriesAnswer; timed: SeriesAnswer; requested: SeriesAnswer;
}

export interface Charts {
  from: number; to: number;
  tps: Line[]; connections: Line[]; hit: Line[]; size: Line[]; lag: Line[]; checkpoints: Line[];
}

export function chartsOf(a: Answers, from: number, to: number): Charts {
  return {
    from, to,
    tps: lines(a.commits, db),
    connections: merge(lines(a.conns, (l) => l.state ?? "")),
    hit: hitRatio(a.hits, a.reads),
    size: lines(a.size, db).map((l) => ({ ...l, points: l.points.map(([x, y]): [number, number] => [x, toMiB(y)]) })),
    lag: lines(a.lag, (l) => l.application_name || l.client_addr || "replica"),
    checkpoints: [...lines(a.timed, () => "timed"), ...lines(a.requested, () => "requested")].map((l) => ({
      ...l, points: l.points.map(([x, y]): [number, number] => [x, y * 60]),
    })),
  };
}
