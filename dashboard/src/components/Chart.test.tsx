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

  it("says the last load failed in place of the plot when it has no lines, not that there is no data", () => {
    const html = renderToStaticMarkup(<Chart title="t" unit="/s" lines={[]} from={0} to={3} empty="No replica." error="503: busy" />);
    expect(html).toContain('<div class="chart-plot chart-note chart-error" role="alert">Could not load this chart: 503: busy</div>');
    expect(html).not.toContain("No replica.");
    expect(renderToStaticMarkup(<Chart title="t" unit="/s" lines={null} from={0} to={3} error="503: busy" />)).toContain('role="alert"');
  });

  it("keeps the lines of a failed refresh with the error beside them, where the time goes", () => {
    const html = renderToStaticMarkup(<Chart title="t" unit="bytes" lines={lines} from={0} to={3} error="timed out" />);
    expect(html).toContain('data-lines="2"');
    expect(html).toContain('<p class="chart-when chart-stale" role="alert" title="timed out">Refresh failed, showing earlier data: timed out</p>');
    expect(html).not.toContain("Latest");
  });

  it("says when the others line is off scale, and keeps its value", () => {
    const busy: Line[] = [
      { label: "shop", group: "shop", points: [[1000, 10]] },
      { label: "others (45 databases)", others: 45, points: [[1000, 400]] },
    ];
    const html = renderToStaticMarkup(<Chart title="t" unit="/s" lines={busy} from={0} to={3} />);
    expect(html).toContain('others (45 databases)</span></span><span class="off-scale"');
    expect(html).toContain('<span class="value">400/s</span>');
    expect(renderToStaticMarkup(<Chart title="t" unit="/s" lines={lines} from={0} to={3} />)).not.toContain("off-scale");
  });

  it("names one session in the singular", () => {
    const html = renderToStaticMarkup(<Chart title="t" unit="sessions" lines={[{ label: "idle", points: [[1000, 1]] }]} from={0} to={3} />);
    expect(html).toContain('<span class="value">1 session</span>');
  });
});
