// The units charts speak: one formatter for legends, tooltips and axis ticks, the y-axis range
// each unit starts from, and the tick steps that read well (sizes on 1024 steps). Pure, tested in
// units.test.ts.

/**
 * A chart's unit. Anything else a caller passes is a count of that thing ("sessions"): the
 * number is shown plain and the word names the axis.
 */
export type Unit =
  | "count"    // a plain number
  | "/s"       // events per second
  | "/min"     // events per minute
  | "bytes"    // a size, in B / KiB / MiB / GiB …
  | "bytes/s"  // a byte rate
  | "%"        // a percentage, 0–100
  | "s"        // a duration in seconds
  | "ms";      // a duration in milliseconds

const SIZES = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** Up to 3 significant digits, without trailing zeros: 12.3, 0.0457, 120. */
function sig(v: number): string {
  return String(Number(v.toPrecision(3)));
}

/** A plain number, short: 950, 1.23k, 45.6M, 7.8G; small ones to 3 significant digits. */
export function short(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${sig(v / 1e9)}G`;
  if (a >= 1e6) return `${sig(v / 1e6)}M`;
  if (a >= 1e3) return `${sig(v / 1e3)}k`;
  return sig(v);
}

/** A size in its largest binary unit: "512 B", "1.5 GiB". */
export function sizeText(n: number): string {
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < SIZES.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${n < 0 ? "-" : ""}${u === 0 ? Math.round(v) : sig(v)} ${SIZES[u]}`;
}

/** A duration in seconds in its largest unit: "350 ms", "12.5 s", "5.2 min", "3 h", "2.5 d". */
export function durationText(s: number): string {
  const a = Math.abs(s);
  if (a === 0) return "0 s";
  if (a < 1) return `${sig(s * 1000)} ms`;
  if (a < 60) return `${sig(s)} s`;
  if (a < 3600) return `${sig(s / 60)} min`;
  if (a < 86400) return `${sig(s / 3600)} h`;
  return `${sig(s / 86400)} d`;
}

/** `v` in `unit`, as a legend or a tooltip shows it; "–" for no value. */
export function formatValue(v: number | null | undefined, unit: Unit | string): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  switch (unit) {
    case "bytes": return sizeText(v);
    case "bytes/s": return `${sizeText(v)}/s`;
    case "%": return `${percentText(v)} %`;
    case "s": return durationText(v);
    case "ms": return durationText(v / 1000);
    case "/s": return `${short(v)}/s`;
    case "/min": return `${short(v)}/min`;
    case "count":
    case "": return short(v);
    default: {
      const n = short(v);
      return `${n} ${n === "1" || n === "-1" ? singular(unit) : unit}`;
    }
  }
}

/**
 * A percentage to a tenth; just under 100 to a hundredth, rounded down (a cache hit ratio of
 * 99.97 % is not 100 %).
 */
function percentText(v: number): string {
  if (v >= 99.95 && v < 100) return (Math.floor(v * 100) / 100).toFixed(2);
  return Math.abs(v) >= 99.95 || v === 0 ? sig(v) : v.toFixed(1);
}

/** The singular of a plural noun: "sessions" → "session", "entries" → "entry", "matches" → "match". */
export function singular(plural: string): string {
  if (/ies$/.test(plural)) return `${plural.slice(0, -3)}y`;
  if (/(ss|x|ch|sh|z)es$/.test(plural)) return plural.slice(0, -2);
  if (/(ss|us)$/.test(plural)) return plural;
  if (/s$/.test(plural)) return plural.slice(0, -1);
  return plural;
}

/** `n` things, in the singular for one: "1 database", "45 databases". */
export function count(n: number, plural: string): string {
  return `${n} ${n === 1 ? singular(plural) : plural}`;
}

/** An axis tick in `unit`: as short as the axis label allows (the label names rates and counts). */
export function formatTick(v: number, unit: Unit | string): string {
  switch (unit) {
    case "bytes": return sizeText(v);
    case "bytes/s": return `${sizeText(v)}/s`;
    case "%": return `${sig(v)} %`;
    case "s": return durationText(v);
    case "ms": return durationText(v / 1000);
    default: return short(v);
  }
}

/**
 * An axis's ticks in `unit`. Percentages get the decimals their step needs (a ratio's axis from
 * 99.9 to 100 ticks 99.92, 99.94 …, which 3 significant digits would all show as "99.9").
 */
export function formatTicks(splits: number[], unit: Unit | string): string[] {
  if (unit !== "%") return splits.map((v) => formatTick(v, unit));
  let digits = 0;
  while (digits < 4 && splits.some((v) => Math.abs(Number(v.toFixed(digits)) - v) > 1e-9)) digits += 1;
  return splits.map((v) => `${Number(v.toFixed(digits))} %`);
}

/** The y-axis's name for `unit` ("" when the ticks say it already). */
export function axisLabel(unit: Unit | string): string {
  switch (unit) {
    case "/s": return "per second";
    case "/min": return "per minute";
    case "count":
    case "bytes":
    case "bytes/s":
    case "%":
    case "s":
    case "ms": return "";
    default: return unit;
  }
}

/** How far below 100 a ratio's axis may start: 99.9, 99.8, 99.5, 99, 98, 95, 90, 80, 50, 0. */
const RATIO_DEPTHS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100];

/**
 * The y range for data between `min` and `max` (null: no data): percentages are 0–100, but a
 * `ratio` (a cache hit ratio, read near its top) runs from the first round floor below its lowest
 * value to 100, so a drop from 99.9 % to 97 % fills the plot instead of looking flat; everything
 * else starts at 0 (counts, rates, sizes and durations are read against zero, never against the
 * data's minimum), or lower when a value is negative, with a tenth of head room.
 */
export function yRange(unit: Unit | string, min: number | null, max: number | null, ratio = false): [number, number] {
  if (unit === "%") {
    if (!ratio || min === null) return [0, 100];
    const depth = RATIO_DEPTHS.find((d) => 100 - d < min) ?? 100;
    return [Number((100 - depth).toFixed(1)), 100];
  }
  const lo = Math.min(0, min ?? 0);
  const hi = Math.max(0, max ?? 0);
  if (hi <= lo) return [lo, lo + 1];
  return [lo, hi + (hi - lo) * 0.1];
}

/** Tick steps for `unit`: sizes on powers of 1024, everything else on 1, 2, 2.5, 5 × 10ⁿ. */
export function tickSteps(unit: Unit | string): number[] {
  if (unit === "bytes" || unit === "bytes/s") {
    const steps: number[] = [];
    for (let p = 0; p < SIZES.length; p++) for (const m of [1, 2, 5, 10, 20, 50, 100, 200, 500]) steps.push(m * 1024 ** p);
    return steps;
  }
  const steps: number[] = [];
  for (let e = -4; e <= 15; e++) for (const m of [1, 2, 2.5, 5]) steps.push(Number((m * 10 ** e).toPrecision(3)));
  // Counts of things (sessions, checkpoints) have no fractions to tick.
  const fractional = ["/s", "/min", "%", "s", "ms"].includes(unit);
  return fractional ? steps : steps.filter((s) => s >= 1);
}
