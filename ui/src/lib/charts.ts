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

/** One provider's month: numbers allocated, successes, and successes per allocated number. */
export type ProviderMonth = { provider_id: number; month: string; allocated: number; success: number; success_rate?: number | null };

/** Each provider's success rate per allocated number by month, a line per provider on a
 * percent axis, the tenant's average as a dashed line; months without allocations are gaps. */
export function successRateByMonth(months: ProviderMonth[], providerName: (id: number) => string, f: Format, averageName: string) {
  const axis = [...new Set(months.map((m) => m.month))].sort();
  const providers = [...new Set(months.map((m) => m.provider_id))];
  const rate = (allocated: number, success: number) => (allocated > 0 ? success / allocated : null);
  const average = axis.map((month) => {
    const inMonth = months.filter((m) => m.month === month);
    return rate(
      inMonth.reduce((s, m) => s + m.allocated, 0),
      inMonth.reduce((s, m) => s + m.success, 0),
    );
  });
  return {
    tooltip: { trigger: "axis", valueFormatter: (v: number | null) => f.percent(v) },
    legend: { top: 0, type: "scroll" },
    grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: axis },
    yAxis: { type: "value", axisLabel: { formatter: (v: number) => f.percent(v) } },
    series: [
      ...providers.map((id) => ({
        type: "line",
        name: providerName(id),
        connectNulls: false,
        data: axis.map((month) => {
          const m = months.find((x) => x.provider_id === id && x.month === month);
          return m ? rate(m.allocated, m.success) : null;
        }),
      })),
      { type: "line", name: averageName, lineStyle: { type: "dashed" }, connectNulls: false, data: average },
    ],
  };
}
