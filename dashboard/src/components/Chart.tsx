import { useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { axisLabel, formatTicks, formatValue, tickSteps, yRange, type Unit } from "../lib/units";
import { align, colours, extent, lastValue, yExtent, type Line } from "./chartData";

export type { Line };

/** The plot's height in px: the same before, while and after data arrives. */
const HEIGHT = 200;

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
 * the cursor. `lines` null: still loading (the box keeps its size). An "others" line is grey and
 * dashed, and when it rises far above the named lines it is left out of the y range (cut off at
 * the top; its legend entry says so and keeps its value). Dragging across the plot calls `onZoom`
 * with the chosen interval; `href` makes a line's legend entry a link; `controls` and `action` go
 * beside the title. `error`: the last load failed — shown in place of the plot without lines, or
 * beside the lines (from the load before) when there are.
 */
export function Chart({ title, unit, lines, from, to, action, controls, onZoom, href, empty, sync, ratio, error }: {
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
  /** A percentage read near its top (a hit ratio): the y-axis runs from a round floor to 100. */
  ratio?: boolean;
  error?: string | null;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [at, setAt] = useState<number | null>(null);
  const zoom = useRef(onZoom);
  zoom.current = onZoom;
  const data = useMemo(() => align(lines ?? []), [lines]);
  const colour = useMemo(() => colours(lines ?? []), [lines]);
  // A ratio's others line is a ratio too: it never dwarfs the others.
  const scale = useMemo(() => {
    if (unit !== "%") return yExtent(lines ?? []);
    const [lo, hi] = extent(lines ?? []);
    return { lo, hi, offScale: false };
  }, [lines, unit]);
  useEffect(() => {
    const el = box.current;
    if (!el || !lines || lines.length === 0) return;
    const { lo, hi } = scale;
    // The others line is drawn first, under the named ones (uPlot draws in series order).
    const order = [...lines.keys()].sort((a, b) => Number(lines[b].others !== undefined) - Number(lines[a].others !== undefined));
    const plot = new uPlot(
      {
        width: el.clientWidth || 400,
        height: HEIGHT,
        series: [
          {},
          ...order.map((i) => lines[i]).map((l, k) => ({
            label: l.label, stroke: colour[order[k]], width: l.others !== undefined ? 1.25 : 1.5,
            dash: l.others !== undefined ? [5, 4] : undefined, spanGaps: true,
          })),
        ],
        scales: {
          // The whole chosen range, even where there is no data yet.
          x: { time: true, range: () => [from, to] },
          y: { range: () => yRange(unit, lo, hi, ratio) },
        },
        axes: [
          {},
          {
            label: axisLabel(unit) || undefined, labelSize: 20, incrs: tickSteps(unit),
            // Room for the widest tick ("400 KiB/s") beside the tick marks and their gap.
            size: (_u, values) => Math.ceil(Math.max(24, ...(values ?? []).map(tickWidth))) + 18,
            values: (_u, splits) => formatTicks(splits, unit),
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
      [data[0], ...order.map((i) => data[i + 1])] as uPlot.AlignedData,
      el,
    );
    const seen = new ResizeObserver(() => plot.setSize({ width: el.clientWidth || 400, height: HEIGHT }));
    seen.observe(el);
    return () => {
      seen.disconnect();
      plot.destroy();
      setAt(null);
    };
  }, [lines, data, colour, scale, unit, from, to, sync, ratio]);
  const shown = lines ?? [];
  const points = shown.reduce((n, l) => n + l.points.length, 0);
  const longest = shown.reduce((n, l) => Math.max(n, l.points.length), 0);
  const hovered = at !== null && at < data[0].length ? at : null;
  // While a new view loads (or fails, or has no data) the legend keeps the height it had with
  // lines, so the page below does not move up and back.
  const legend = useRef<HTMLUListElement>(null);
  const legendHeight = useRef(0);
  useLayoutEffect(() => {
    if (shown.length > 0 && legend.current) legendHeight.current = legend.current.getBoundingClientRect().height;
  });
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
      {shown.length === 0 && error ? (
        <div className="chart-plot chart-note chart-error" role="alert">Could not load this chart: {error}</div>
      ) : lines === null ? (
        <div className="chart-plot chart-note" role="status">Loading…</div>
      ) : shown.length === 0 ? (
        <div className="chart-plot chart-note">{empty ?? "No data in this range yet."}</div>
      ) : (
        <div className="chart-plot" ref={box} />
      )}
      {shown.length > 0 && error ? (
        // The lines are the previous refresh's: say so, on the line the time takes (no shift).
        <p className="chart-when chart-stale" role="alert" title={error}>Refresh failed, showing earlier data: {error}</p>
      ) : (
        <p className="chart-when">
          {hovered !== null ? <>At {timeText(data[0][hovered]!)}</> : shown.length > 0 ? "Latest" : "\u00a0"}
          {shown.length > 0 && onZoom && <span className="muted"> · drag across the chart to zoom</span>}
        </p>
      )}
      <ul className="chart-legend" ref={legend} style={shown.length === 0 && legendHeight.current > 0 ? { minHeight: legendHeight.current } : undefined}>
        {shown.map((l, i) => {
          const v = hovered !== null ? data[i + 1][hovered] : lastValue(l);
          const link = href?.(l);
          const name = link ? <a href={link} title={`${l.label}: its tables`}>{l.label}</a> : <span title={l.label}>{l.label}</span>;
          const cut = l.others !== undefined && scale.offScale;
          return (
            <li key={`${i}:${l.label}`} data-testid="legend-entry" className={l.others !== undefined ? "others" : undefined}>
              <span className="swatch" style={{ background: colour[i] }} aria-hidden="true" />
              <span className="name">{name}</span>
              {cut && <span className="off-scale" title="Far above the other lines: left out of the y-axis so they stay readable">off scale</span>}
              <span className="value">{formatValue(v, unit)}</span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
