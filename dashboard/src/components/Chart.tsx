import { useEffect, useRef, type ReactNode } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { align, type Line } from "./chartData";

export type { Line };

const COLORS = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

/** A time chart of several lines (x: unix ms); `action` goes beside its title. */
export function Chart({ title, unit, lines, from, to, action }: {
  title: string; unit: string; lines: Line[]; from: number; to: number; action?: ReactNode;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || lines.length === 0) return;
    const data = align(lines);
    const plot = new uPlot(
      {
        width: el.clientWidth || 400,
        height: 200,
        series: [
          {},
          ...lines.map((l, i) => ({ label: l.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true })),
        ],
        // The whole chosen range, even where there is no data yet.
        scales: { x: { time: true, range: () => [from, to] } },
        axes: [{}, { label: unit, size: 60 }],
        legend: { show: true },
      },
      data as uPlot.AlignedData,
      el,
    );
    const resize = () => plot.setSize({ width: el.clientWidth || 400, height: 200 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.destroy();
    };
  }, [lines, unit, from, to]);
  const points = lines.reduce((n, l) => n + l.points.length, 0);
  const longest = lines.reduce((n, l) => Math.max(n, l.points.length), 0);
  return (
    <section className="card chart" aria-label={title} data-points={points} data-longest={longest}>
      <div className="chart-head">
        <h3>{title}</h3>
        {action}
      </div>
      {lines.length === 0 ? <p className="empty">No data in this range yet.</p> : <div ref={box} />}
    </section>
  );
}
