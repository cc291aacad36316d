// A small trend as plain SVG (cheap in long tables): one path for its lines, one for its lone
// points, whatever the number of gaps (see sparkPaths). The fleet overview's rows use it too.
import { sparkPaths } from "../pages/fleet";

/** `values` left to right (null: a gap), 60×18 px unless told. */
export function Sparkline({ values, label, width = 60, height = 16 }: { values: readonly (number | null)[]; label: string; width?: number; height?: number }) {
  const { lines, dots } = sparkPaths(values, width, height);
  return (
    <svg className="spark" width={width} height={height + 2} viewBox={`0 -1 ${width} ${height + 2}`} role="img" aria-label={label}>
      {lines && <path className="lines" d={lines} />}
      {dots && <path className="dots" d={dots} />}
    </svg>
  );
}
