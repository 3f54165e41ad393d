// Chart options several pages share, built from plain figures so pages only say what to
// draw. ECharts does the drawing (components/Chart.tsx).
import type { Format } from "./format";

/** One day's figures; a day without calls has no rate. */
export type DayFigures = { day: string; dialed: number; success: number; rate: number | null | undefined };

/** Calls and successes by day as bars on a count axis, the conversion rate as a line on
 * a percent axis, with a legend and a tooltip per day. */
export function callsAndRateByDay(days: DayFigures[], f: Format, names: { dialed: string; success: string; rate: string }) {
  return {
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: days.map((d) => f.shortDay(d.day)) },
    yAxis: [
      // Counts are whole: no 0.5 calls on the axis.
      { type: "value", name: names.dialed, minInterval: 1, axisLabel: { formatter: (v: number) => f.number(v) } },
      { type: "value", name: names.rate, axisLabel: { formatter: (v: number) => f.percent(v) }, splitLine: { show: false } },
    ],
    series: [
      { type: "bar", name: names.dialed, data: days.map((d) => d.dialed), tooltip: { valueFormatter: (v: number) => f.number(v) } },
      { type: "bar", name: names.success, data: days.map((d) => d.success), tooltip: { valueFormatter: (v: number) => f.number(v) } },
      {
        type: "line",
        name: names.rate,
        yAxisIndex: 1,
        connectNulls: false,
        data: days.map((d) => d.rate ?? null),
        tooltip: { valueFormatter: (v: number | null) => f.percent(v) },
      },
    ],
  };
}
