import { useEffect, useState } from "react";
import { get, may } from "../../api/client";
import { message } from "../../api/errors";
import type { Instance, LatestAnswer } from "../../api/types";
import { Chart } from "../../components/Chart";
import type { Group, GroupedAnswer } from "../../components/chartData";
import { reloadChain } from "../../lib/reloadChain";
import type { TimeRange } from "../../lib/timeRange";
import { formatValue } from "../../lib/units";
import { CHART_SOURCES, hashQuery, prefillFromChart, ruleQuery, sourceInView } from "../chartAlert";
import { afterLoad, fresh, shownFor, viewKey, type ChartState } from "../chartState";
import {
  CHARTS, loadChart, modeOf, modesOf, pickedOf, pickerEntries, seriesParams, tablesLink, withMode, withPicked,
  type ChartDef, type Drawn, type Mode,
} from "../instanceCharts";
import type { ViewProps } from "./props";

/** Moving ranges follow "now" this long after the previous load answered; a fixed range (a zoom) is loaded once. */
const RELOAD_MS = 15000;
/** A failed load is tried again this long after it failed (a fixed range too). */
const RETRY_MS = 15000;

/** The Metrics tab: the instance's charts over the page's range. */
export function Metrics({ i, range, setRange, query, setQuery }: ViewProps) {
  const picked = pickedOf(query);
  // Changes start from the URL as it is now, not as this render saw it: two quick changes (two
  // ticks, two charts' lines) both stay.
  const now = () => new URLSearchParams(hashQuery(window.location.hash));
  return (
    <div className="charts">
      {CHARTS.map((def) => (
        <MetricChart
          key={def.key}
          def={def}
          i={i}
          range={range}
          setRange={setRange}
          query={query}
          mode={modeOf(query, def)}
          setMode={(m) => setQuery(withMode(now(), def, m))}
          picked={picked}
          setPicked={(change) => {
            const q = now();
            setQuery(withPicked(q, change(pickedOf(q))));
          }}
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

type Loaded = Drawn & { from: number; to: number };

function MetricChart({ def, i, range, setRange, query, mode, setMode, picked, setPicked }: {
  def: ChartDef;
  i: Instance;
  range: TimeRange;
  setRange: ViewProps["setRange"];
  query: URLSearchParams;
  mode: Mode;
  setMode: (m: Mode) => void;
  picked: string[];
  setPicked: (change: (picked: string[]) => string[]) => void;
}) {
  const modes = modesOf(def);
  const pick = mode === "pick" ? picked : [];
  // Lines belong to the view they were loaded for: another range, mode or pick shows none of them.
  const view = viewKey([def.key, mode, pick.join(","), i.name], range);
  const [state, setState] = useState<ChartState<Loaded>>(() => fresh(view));
  const { drawn, error } = shownFor(state, view);
  // The picker lists every database of the last answer, also while a new pick loads (its list
  // would shrink to the picked ones and jump back under the pointer).
  const [groups, setGroups] = useState<Group[]>([]);
  useEffect(() => {
    const load = async (): Promise<Loaded> => {
      const { from, to } = intervalOf(range);
      const d = await loadChart(
        def, mode, pick,
        (q) => get<GroupedAnswer>(`/metrics/series?${seriesParams(i.name, q, from, to)}`),
        // The names of replicas seen over the range (the API looks back at most 7 days).
        (metric) => {
          const within = Math.max(900, Math.min(604800, Math.floor(Date.now() / 1000) - from));
          const q = new URLSearchParams({ instance_id: i.name, metric, within: String(within) });
          return get<LatestAnswer>(`/metrics/latest?${q}`).then((a) => a.rows);
        },
      );
      return { ...d, from, to };
    };
    // One request at a time; a stopped chain's late answer is dropped (see reloadChain).
    return reloadChain(
      load,
      (o) => {
        setState((s) => afterLoad(s, view, o.ok ? o : { ok: false, error: message(o.error) }));
        if (o.ok) setGroups(o.value.groups);
      },
      range.key === "custom" ? null : RELOAD_MS,
      RETRY_MS,
    );
    // `view` names everything the load reads (the range by its key and span or its ends).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [view]);
  const known = CHART_SOURCES[def.key];
  const source = known && sourceInView(known, mode === "total");
  const grouped = mode !== "total";
  const lines = drawn?.lines ?? (error ? [] : null);
  const { from, to } = drawn ?? intervalOf(range);
  return (
    <Chart
      title={def.title}
      unit={def.unit}
      lines={lines}
      from={from}
      to={to}
      empty={def.empty}
      error={error}
      ratio={def.ratio}
      onZoom={(r) => setRange(r)}
      sync="instance-metrics"
      href={grouped && def.by === "database" ? (l) => (l.group ? tablesLink(i.id, l.group, query) : undefined) : undefined}
      controls={modes.length > 0 && (
        <>
          <select aria-label={`${def.title}: lines`} value={mode} onChange={(e) => setMode(e.target.value as Mode)}>
            {modes.map(([m, name]) => <option key={m} value={m}>{name}</option>)}
          </select>
          {mode === "pick" && <Picker groups={drawn?.groups ?? groups} valueOf={def.ratio ? undefined : (v) => formatValue(v === null ? null : v * (def.scale ?? 1), def.unit)} picked={picked} setPicked={setPicked} />}
        </>
      )}
      action={source && may("createRule") && (
        <button
          className="secondary small"
          title="Open a new alert rule for this chart's metric on this instance"
          onClick={() => { window.location.hash = `#/rules?${ruleQuery(prefillFromChart(source, drawn?.lines ?? [], i))}`; }}
        >
          Alert on this
        </button>
      )}
    />
  );
}

/**
 * A drop-down of every database (largest first, with its latest value on this chart) to tick
 * the ones the charts draw (see pickerEntries: at most 20, an unnamed group cannot be ticked).
 */
function Picker({ groups, valueOf, picked, setPicked }: {
  groups: Group[];
  /** A group's latest value as the chart shows it (none for ratios: groups rank by the numerator). */
  valueOf?: (v: number | null) => string;
  picked: string[];
  setPicked: (change: (picked: string[]) => string[]) => void;
}) {
  const entries = pickerEntries(groups, picked);
  const toggle = (name: string, on: boolean) => setPicked((now) => (on ? [...now, name] : now.filter((p) => p !== name)));
  return (
    <details className="chart-picker">
      <summary>{picked.length === 0 ? "Pick databases" : `${picked.length} picked`}</summary>
      <div className="chart-picker-list" role="group" aria-label="Databases to draw">
        {entries.length === 0 && <p className="muted small">No databases in this range.</p>}
        {entries.map((e) => (
          <label key={e.value} className="check" title={e.value === "" ? "A group without a name cannot be picked" : undefined}>
            <input type="checkbox" checked={e.checked} disabled={!e.pickable} onChange={(ev) => toggle(e.value, ev.target.checked)} />
            <span className="grow">{e.label}</span>
            {valueOf && <span className="muted">{valueOf(e.last)}</span>}
          </label>
        ))}
        {picked.length > 0 && <button className="secondary small" onClick={() => setPicked(() => [])}>Clear</button>}
      </div>
    </details>
  );
}
