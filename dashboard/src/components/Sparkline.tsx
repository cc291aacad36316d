// A small trend as plain SVG (cheap in long tables), drawn like the fleet overview's.
import { sparkSegments } from "../pages/fleet";

/** `values` left to right (null: a gap), 60×18 px unless told. */
export function Sparkline({ values, label, width = 60, height = 16 }: { values: readonly (number | null)[]; label: string; width?: number; height?: number }) {
  const segments = sparkSegments(values, width, height);
  return (
    <svg className="spark" width={width} height={height + 2} viewBox={`0 -1 ${width} ${height + 2}`} role="img" aria-label={label}>
      {segments.map((points, n) => {
        // A lone point between gaps is a dot, which a one-point polyline would not show.
        if (points.includes(" ")) return <polyline key={n} points={points} />;
        const [x, y] = points.split(",");
        return <circle key={n} cx={x} cy={y} r="1.3" />;
      })}
    </svg>
  );
}
