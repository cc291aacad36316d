// The props every view of the instance page takes: the page resolves the instance, its collector
// and the time range from the URL once, and each view reads or writes the URL through these.
import type { Collector, Instance } from "../../api/types";
import type { TimeRange } from "../../lib/timeRange";

export interface ViewProps {
  i: Instance;                       // the managed instance (api/types)
  collector: Collector | undefined;  // the collector reporting it, if any
  range: TimeRange;                  // resolved from the URL
  setRange: (r: string | { from: number; to: number }) => void; // writes the URL (zoom, picker)
  query: URLSearchParams;            // the page's whole query, for view-specific keys
  setQuery: (next: URLSearchParams) => void;                     // writes the URL
}
