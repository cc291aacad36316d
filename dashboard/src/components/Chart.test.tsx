import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { Chart } from "./Chart";
import type { Line } from "./chartData";

const lines: Line[] = [
  { label: "shop", group: "shop", points: [[1000, 10], [2000, 2 * 1048576]] },
  { label: "others (18)", others: 18, points: [[1000, 512]] },
];

describe("Chart", () => {
  it("has a legend entry per line with its latest value in the chart's unit, before any hover", () => {
    const html = renderToStaticMarkup(<Chart title="Database size" unit="bytes" lines={lines} from={0} to={3} />);
    expect(html).toContain('data-lines="2" data-legend="2" data-points="3" data-longest="2"');
    expect(html.match(/data-testid="legend-entry"/g)).toHaveLength(2);
    expect(html).toContain('<span class="value">2 MiB</span>');
    expect(html).toContain('<li data-testid="legend-entry" class="others">');
    expect(html).toContain('<span class="value">512 B</span>');
    expect(html).toContain("Latest");
  });

  it("links the entries a caller gives a place, and only those", () => {
    const html = renderToStaticMarkup(
      <Chart title="t" unit="/s" lines={lines} from={0} to={3} href={(l) => (l.group ? `#/x?db=${l.group}` : undefined)} />,
    );
    expect(html).toContain('<a href="#/x?db=shop"');
    expect(html.match(/<a /g)).toHaveLength(1);
  });

  it("keeps its plot box while loading and when the range has no data", () => {
    const loading = renderToStaticMarkup(<Chart title="t" unit="%" lines={null} from={0} to={3} />);
    expect(loading).toContain('<div class="chart-plot chart-note" role="status">Loading…</div>');
    expect(loading).toContain('data-lines="0"');
    const empty = renderToStaticMarkup(<Chart title="t" unit="%" lines={[]} from={0} to={3} empty="No replica." />);
    expect(empty).toContain('<div class="chart-plot chart-note">No replica.</div>');
    expect(empty).toContain('<ul class="chart-legend"></ul>');
  });
});
