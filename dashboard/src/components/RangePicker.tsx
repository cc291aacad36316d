// The instance page's time range: a moving window ending now (RANGES), or a fixed one (a zoom or
// a link) shown as "from – to" with a way back to a moving window. The choice lives in the URL.
import { DEFAULT_RANGE, RANGES, type TimeRange } from "../lib/timeRange";
import { rangeText } from "./rangeText";

export function RangePicker({ range, setRange }: { range: TimeRange; setRange: (r: string) => void }) {
  const fixed = range.key === "custom";
  return (
    <div className="range-picker" data-range={range.key}>
      <label className="inline-field">
        Time range
        <select value={fixed ? "custom" : range.key} onChange={(e) => e.target.value !== "custom" && setRange(e.target.value)}>
          {RANGES.map(([key, label]) => <option key={key} value={key}>{label}</option>)}
          {fixed && <option value="custom">Fixed range</option>}
        </select>
      </label>
      {fixed && (
        <>
          <span className="fixed-range" data-testid="fixed-range">{rangeText(range.from, range.to)}</span>
          <button className="secondary small" onClick={() => setRange(DEFAULT_RANGE)}>Back to live (1 hour)</button>
        </>
      )}
    </div>
  );
}
