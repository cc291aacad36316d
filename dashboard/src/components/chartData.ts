// uPlot wants one x array shared by every line: the union of all lines' times, with a gap
// (null) where a line has no point.

export interface Line { label: string; points: [number, number][] }

/** uPlot's data for `lines` (x: unix ms in, unix seconds out). */
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
