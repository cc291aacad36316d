import { useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { axisLabel, formatTick, formatValue, tickSteps, yRange, type Unit } from "../lib/units";
import { align, extent, lastValue, type Line } from "./chartData";

export type { Line };

const COLORS = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
/** The "others" line: grey, dashed, behind the named ones. */
const OTHERS = "#94a3b8";
/** The plot's height in px: the same before, while and after data arrives. */
const HEIGHT = 200;

/** The colour of each line: the palette in order, "others" grey. */
function colours(lines: Line[]): string[] {
  let n = 0;
  return lines.map((l) => (l.others !== undefined ? OTHERS : COLORS[n++ % COLORS.length]));
}

let measurer: CanvasRenderingContext2D | null | undefined;
/** The width of a tick label in uPlot's axis font (12 px), to size the y-axis to its labels. */
function tickWidth(text: string): number {
  if (measurer === undefined) measurer = document.createElement("canvas").getContext("2d");
  if (!measurer) return text.length * 7;
  measurer.font = "12px system-ui, -apple-system, sans-serif";
  return measurer.measureText(text).width;
}

const timeText = (unixS: number) =>
  new Date(unixS * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/**
 * A time chart of a few lines (x: unix ms) over `from`..`to` (unix seconds, drawn whole even
 * where there is no data), with a compact legend of each line's latest value, or its value at
 * the cursor. `lines` null: still loading (the box keeps its size). Dragging across the plot
 * calls `onZoom` with the chosen interval; `href` makes a line's legend entry a link;
 * `controls` and `action` go beside the title.
 */
export function Chart({ title, unit, lines, from, to, action, controls, onZoom, href, empty, sync }: {
  title: string;
  unit: Unit | string;
  lines: Line[] | null;
  from: number;
  to: number;
  action?: ReactNode;
  controls?: ReactNode;
  onZoom?: (r: { from: number; to: number }) => void;
  href?: (l: Line) => string | undefined;
  empty?: string;
  /** Charts with the same key share the cursor: hovering one shows every one's values then. */
  sync?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [at, setAt] = useState<number | null>(null);
  const zoom = useRef(onZoom);
  zoom.current = onZoom;
  const data = useMemo(() => align(lines ?? []), [lines]);
  const colour = useMemo(() => colours(lines ?? []), [lines]);
  useEffect(() => {
    const el = box.current;
    if (!el || !lines || lines.length === 0) return;
    const [lo, hi] = extent(lines);
    const plot = new uPlot(
      {
        width: el.clientWidth || 400,
        height: HEIGHT,
        series: [
          {},
          ...lines.map((l, i) => ({
            label: l.label, stroke: colour[i], width: l.others !== undefined ? 1.25 : 1.5,
            dash: l.others !== undefined ? [5, 4] : undefined, spanGaps: true,
          })),
        ],
        scales: {
          // The whole chosen range, even where there is no data yet.
          x: { time: true, range: () => [from, to] },
          y: { range: () => yRange(unit, lo, hi) },
        },
        axes: [
          {},
          {
            label: axisLabel(unit) || undefined, labelSize: 20, incrs: tickSteps(unit),
            // Room for the widest tick ("400 KiB/s") beside the tick marks and their gap.
            size: (_u, values) => Math.ceil(Math.max(24, ...(values ?? []).map(tickWidth))) + 18,
            values: (_u, splits) => splits.map((v) => formatTick(v, unit)),
          },
        ],
        legend: { show: false },
        // A drag selects an interval that becomes the page's range (see onZoom), not a local zoom.
        cursor: { y: false, drag: { x: true, y: false, setScale: false }, ...(sync ? { sync: { key: sync } } : {}) },
        hooks: {
          setCursor: [(u) => setAt(u.cursor.idx ?? null)],
          setSelect: [
            (u) => {
              if (u.select.width < 4) return;
              const a = u.posToVal(u.select.left, "x");
              const b = u.posToVal(u.select.left + u.select.width, "x");
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              zoom.current?.({ from: Math.floor(a), to: Math.ceil(b) });
            },
          ],
        },
      },
      data as uPlot.AlignedData,
      el,
    );
    const seen = new ResizeObserver(() => plot.setSize({ width: el.clientWidth || 400, height: HEIGHT }));
    seen.observe(el);
    return () => {
      seen.disconnect();
      plot.destroy();
      setAt(null);
    };
  }, [lines, data, colour, unit, from, to, sync]);
  const shown = lines ?? [];
  const points = shown.reduce((n, l) => n + l.points.length, 0);
  const longest = shown.reduce((n, l) => Math.max(n, l.points.length), 0);
  const hovered = at !== null && at < data[0].length ? at : null;
  return (
    <section
      className="card chart"
      aria-label={title}
      aria-busy={lines === null}
      data-lines={shown.length}
      data-legend={shown.length}
      data-points={points}
      data-longest={longest}
    >
      <div className="chart-head">
        <h3>{title}</h3>
        <div className="chart-controls">
          {controls}
          {action}
        </div>
      </div>
      {lines === null ? (
        <div className="chart-plot chart-note" role="status">Loading…</div>
      ) : shown.length === 0 ? (
        <div className="chart-plot chart-note">{empty ?? "No data in this range yet."}</div>
      ) : (
        <div className="chart-plot" ref={box} />
      )}
      <p className="chart-when">
        {hovered !== null ? <>At {timeText(data[0][hovered]!)}</> : shown.length > 0 ? "Latest" : "\u00a0"}
        {shown.length > 0 && onZoom && <span className="muted"> · drag across the chart to zoom</span>}
      </p>
      <ul className="chart-legend">
        {shown.map((l, i) => {
          const v = hovered !== null ? data[i + 1][hovered] : lastValue(l);
          const link = href?.(l);
          const name = link ? <a href={link} title={`${l.label}: its tables`}>{l.label}</a> : <span title={l.label}>{l.label}</span>;
          return (
            <li key={`${i}:${l.label}`} data-testid="legend-entry" className={l.others !== undefined ? "others" : undefined}>
              <span className="swatch" style={{ background: colour[i] }} aria-hidden="true" />
              <span className="name">{name}</span>
              <span className="value">{formatValue(v, unit)}</span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
