import { useEffect, useState } from "react";
import { get, may } from "../../api/client";
import { message } from "../../api/errors";
import type { Instance } from "../../api/types";
import { Chart } from "../../components/Chart";
import type { Group, GroupedAnswer } from "../../components/chartData";
import type { TimeRange } from "../../lib/timeRange";
import { formatValue } from "../../lib/units";
import { CHART_SOURCES, prefillFromChart, ruleQuery, sourceInView } from "../chartAlert";
import { CHARTS, loadChart, modesOf, pickedOf, seriesParams, withPicked, type ChartDef, type Drawn, type Mode } from "../instanceCharts";
import type { ViewProps } from "./props";

/** Moving ranges follow "now" this often; a fixed range (a zoom) is loaded once. */
const RELOAD_MS = 15000;
/** The API takes at most this many picked groups. */
const MAX_PICK = 20;

/** The Metrics tab: the instance's charts over the page's range. */
export function Metrics({ i, range, setRange, query, setQuery }: ViewProps) {
  const picked = pickedOf(query);
  return (
    <div className="charts">
      {CHARTS.map((def) => (
        <MetricChart
          key={def.key}
          def={def}
          i={i}
          range={range}
          setRange={setRange}
          picked={picked}
          setPicked={(dbs) => setQuery(withPicked(query, dbs))}
        />
      ))}
    </div>
  );
}

/** The interval to load for `range` now: a moving window ends now, a fixed one is as it is. */
function intervalOf(range: TimeRange): { from: number; to: number } {
  if (range.key === "custom") return { from: range.from, to: range.to };
  const to = Math.floor(Date.now() / 1000);
  return { from: to - (range.to - range.from), to };
}

function MetricChart({ def, i, range, setRange, picked, setPicked }: {
  def: ChartDef;
  i: Instance;
  range: TimeRange;
  setRange: ViewProps["setRange"];
  picked: string[];
  setPicked: (dbs: string[]) => void;
}) {
  const modes = modesOf(def);
  // Until the user chooses, a chart by database shows the picked databases when there are any.
  const [chosen, setChosen] = useState<Mode | null>(null);
  const mode: Mode = chosen ?? (def.by === "database" && picked.length > 0 ? "pick" : "total");
  const pick = mode === "pick" ? picked : [];
  const [drawn, setDrawn] = useState<(Drawn & { from: number; to: number }) | null>(null);
  const [error, setError] = useState<string | null>(null);
  const fixed = range.key === "custom";
  const span = range.to - range.from;
  useEffect(() => {
    let live = true;
    const load = () => {
      const { from, to } = intervalOf(range);
      loadChart(def, mode, pick, (q) => get<GroupedAnswer>(`/metrics/series?${seriesParams(i.name, q, from, to)}`))
        .then((d) => live && (setDrawn({ ...d, from, to }), setError(null)))
        .catch((e: unknown) => live && setError(message(e)));
    };
    load();
    const t = fixed ? undefined : window.setInterval(load, RELOAD_MS);
    return () => {
      live = false;
      window.clearInterval(t);
    };
    // `range` is read through its key and span (a moving window's ends move every render).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [def, mode, pick.join(","), i.name, range.key, fixed ? range.from : span, fixed ? range.to : 0]);
  const known = CHART_SOURCES[def.key];
  const source = known && sourceInView(known, mode === "total");
  const grouped = mode !== "total";
  const lines = drawn?.lines ?? null;
  const { from, to } = drawn ?? intervalOf(range);
  return (
    <Chart
      title={def.title}
      unit={def.unit}
      lines={error && !drawn ? [] : lines}
      from={from}
      to={to}
      empty={error ?? def.empty}
      onZoom={(r) => setRange(r)}
      sync="instance-metrics"
      href={grouped && def.by === "database" ? (l) => (l.group !== undefined ? tablesOf(i, l.group) : undefined) : undefined}
      controls={modes.length > 0 && (
        <>
          <select aria-label={`${def.title}: lines`} value={mode} onChange={(e) => setChosen(e.target.value as Mode)}>
            {modes.map(([m, name]) => <option key={m} value={m}>{name}</option>)}
          </select>
          {mode === "pick" && <Picker groups={drawn?.groups ?? []} valueOf={def.ratio ? undefined : (v) => formatValue(v === null ? null : v * (def.scale ?? 1), def.unit)} picked={picked} setPicked={setPicked} />}
        </>
      )}
      action={source && may("createRule") && (
        <button
          className="secondary small"
          title="Open a new alert rule for this chart's metric on this instance"
          onClick={() => { window.location.hash = `#/rules?${ruleQuery(prefillFromChart(source, lines ?? [], i))}`; }}
        >
          Alert on this
        </button>
      )}
    />
  );
}

/** The tables view of one database of the instance. */
function tablesOf(i: Instance, database: string): string {
  return `#/instances/${encodeURIComponent(i.id)}?tab=tables&db=${encodeURIComponent(database)}`;
}

/**
 * A drop-down of every database (largest first, with its latest value on this chart) to tick
 * the ones the charts draw.
 */
function Picker({ groups, valueOf, picked, setPicked }: {
  groups: Group[];
  /** A group's latest value as the chart shows it (none for ratios: groups rank by the numerator). */
  valueOf?: (v: number | null) => string;
  picked: string[];
  setPicked: (dbs: string[]) => void;
}) {
  // Picked databases without data in this range stay listed, so they can be unticked.
  const names = [...groups.map((g) => g.value), ...picked.filter((p) => !groups.some((g) => g.value === p))];
  const last = new Map(groups.map((g) => [g.value, g.last]));
  const toggle = (name: string, on: boolean) =>
    setPicked(on ? [...picked, name].slice(0, MAX_PICK) : picked.filter((p) => p !== name));
  return (
    <details className="chart-picker">
      <summary>{picked.length === 0 ? "Pick databases" : `${picked.length} picked`}</summary>
      <div className="chart-picker-list" role="group" aria-label="Databases to draw">
        {names.length === 0 && <p className="muted small">No databases in this range.</p>}
        {names.map((name) => (
          <label key={name} className="check">
            <input
              type="checkbox"
              checked={picked.includes(name)}
              disabled={!picked.includes(name) && picked.length >= MAX_PICK}
              onChange={(e) => toggle(name, e.target.checked)}
            />
            <span className="grow">{name}</span>
            {valueOf && <span className="muted">{valueOf(last.get(name) ?? null)}</span>}
          </label>
        ))}
        {picked.length > 0 && <button className="secondary small" onClick={() => setPicked([])}>Clear</button>}
      </div>
    </details>
  );
}
