// Project conversion: the report grouped by project, provider, geo, day or weekday, with
// totals, a funnel, conversion over time and heat maps of provider × geo and weekday ×
// hour; a project drills
// down to its providers and geos, and a cell links to the numbers behind it.
import { Suspense, lazy, useMemo, useState, type ReactNode } from "react";
import { Group, Loader, NativeSelect, Paper, SegmentedControl, SimpleGrid, Text, Title } from "@mantine/core";
import { DateInput } from "@mantine/dates";
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/ui";
import { useProjects } from "../lib/catalog";
import { conversionQuery, hourGrid, sortRows, weekdayNames, type SortKey } from "../lib/conversion";
import { intlLocale, useFormat, type Format } from "../lib/format";
import { callsAndRateByDay } from "../lib/charts";

const Chart = lazy(() => import("../components/Chart"));
import { useI18n } from "../lib/i18n";

type Row = Schemas["ConversionRow"];

const GROUPINGS = ["project", "provider", "geo", "day", "weekday", "project,provider", "provider,geo"];

export function ConversionPage() {
  const { t } = useI18n();
  const f = useFormat();
  const projects = useProjects();
  const [params, setParams] = useSearchParams();
  const query = conversionQuery(params);
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean }>({ key: "dialed", descending: true });
  const set = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    setParams(next);
  };
  const report = useQuery({
    queryKey: ["conversion", query],
    queryFn: async () => asReport(unwrap(await api.GET("/api/v1/conversion", { params: { query } }))),
  });
  // The same filters by day and by provider × geo, for the chart and the heat map.
  const overTime = useQuery({
    queryKey: ["conversion", { ...query, by: "day" }],
    queryFn: async () => asReport(unwrap(await api.GET("/api/v1/conversion", { params: { query: { ...query, by: "day" } } }))),
  });
  const heat = useQuery({
    queryKey: ["conversion", { ...query, by: "provider,geo" }],
    queryFn: async () => asReport(unwrap(await api.GET("/api/v1/conversion", { params: { query: { ...query, by: "provider,geo" } } }))),
  });
  // The heat map of hours has its own grouping: the filters alone.
  const filters = { from: query.from, to: query.to, project_id: query.project_id };
  const hours = useQuery({
    queryKey: ["conversion-hours", filters],
    queryFn: async () => unwrap(await api.GET("/api/v1/conversion/hours", { params: { query: filters } })),
  });
  const rows = useMemo(() => sortRows(report.data?.rows ?? [], sort.key, sort.descending), [report.data, sort]);
  const by = report.data?.by ?? [];
  const download = (format: "csv" | "xlsx") => {
    const search = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    search.set("format", format);
    return `/api/v1/conversion?${search}`;
  };
  const header = (key: SortKey, label: string) => (
    <th className="num">
      <button className="link" onClick={() => setSort({ key, descending: sort.key === key ? !sort.descending : true })}>
        {label}
        {sort.key === key ? (sort.descending ? " ▼" : " ▲") : ""}
      </button>
    </th>
  );
  const drill = (row: Row) => {
    const id = (d: string) => row.keys[by.indexOf(d as Schemas["Dimension"])];
    if (by[0] === "project" && by.length === 1) return () => set({ project_id: id("project"), by: "provider,geo" });
    return undefined;
  };
  const numbersLink = (row: Row) => {
    const search = new URLSearchParams();
    by.forEach((d, i) => {
      if (d === "project" || d === "provider" || d === "geo") search.set(`${d === "project" ? "project" : d}_id`, row.keys[i]);
    });
    if (query.project_id) search.set("project_id", String(query.project_id));
    return `/numbers?${search}`;
  };
  const totals = report.data?.totals;

  return (
    <>
      <h2>{t("conversion")}</h2>
      <div className="toolbar" aria-label={t("filters")}>
        <label>
          {t("groupBy")}
          <select value={query.by ?? "project"} onChange={(e) => set({ by: e.target.value })}>
            {GROUPINGS.map((g) => (
              <option key={g} value={g}>
                {g
                  .split(",")
                  .map((d) => t(d as "project"))
                  .join(" × ")}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("project")}
          <select value={query.project_id ?? ""} onChange={(e) => set({ project_id: e.target.value || undefined })}>
            <option value="">{t("any")}</option>
            {projects.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <DateInput
          label={t("fromDay")}
          clearable
          valueFormat="ll"
          value={query.from ?? null}
          onChange={(v) => set({ from: v ?? undefined })}
          maxDate={query.to}
        />
        <DateInput label={t("toDay")} clearable valueFormat="ll" value={query.to ?? null} onChange={(v) => set({ to: v ?? undefined })} minDate={query.from} />
        <a href={download("csv")}>CSV</a> <a href={download("xlsx")}>XLSX</a>
      </div>
      <ErrorText error={report.error} />
      <div className="table-wrap" tabIndex={0}>
      <table aria-label={t("conversion")}>
        <thead>
          <tr>
            {by.map((d) => (
              <th key={d}>{t(d as "project")}</th>
            ))}
            {header("allocated", t("allocated"))}
            {header("leased", t("leasedCount"))}
            {header("dialed", t("dialed"))}
            {header("contacted", t("contacted"))}
            {header("success", t("successes"))}
            {header("conversion_rate", t("conversionRate"))}
            {header("contact_rate", t("contactRate"))}
            {header("attempts_per_success", t("attemptsPerSuccess"))}
            {header("hours_to_success_median", t("hoursToSuccess"))}
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td colSpan={by.length + 10} className="muted">
                {t("noRows")}
              </td>
            </tr>
          )}
          {rows.map((r) => {
            const open = drill(r);
            return (
              <tr key={r.keys.join("|")} data-testid={`conversion-${r.labels.join("|")}`}>
                {r.labels.map((label, i) => (
                  <td key={by[i]}>{open && i === 0 ? <button className="link" onClick={open}>{label}</button> : label}</td>
                ))}
                <Measures row={r} />
                <td>
                  <Link to={numbersLink(r)}>{t("numbers")}</Link>
                </td>
              </tr>
            );
          })}
        </tbody>
        {totals && (
          <tfoot>
            <tr data-testid="conversion-totals">
              {by.map((d, i) => (
                <th key={d}>{i === 0 ? t("total") : ""}</th>
              ))}
              <Measures row={totals} />
              <td />
            </tr>
          </tfoot>
        )}
      </table>
</div>
      <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="md">
        <OverTime rows={overTime.data?.rows ?? []} />
        {totals ? <Funnel totals={totals} /> : <div />}
        <HeatMap rows={heat.data?.rows ?? []} />
        <HourHeatMap cells={hours.data?.cells ?? []} />
      </SimpleGrid>
      {report.data?.refreshed_at && (
        <Text c="dimmed" size="sm">
          {t("refreshedAt")} {f.dateTime(report.data.refreshed_at)}
        </Text>
      )}
    </>
  );
}

function Measures({ row }: { row: Row }) {
  const f = useFormat();
  return (
    <>
      <td className="num">{f.number(row.allocated)}</td>
      <td className="num">{f.number(row.leased)}</td>
      <td className="num">{f.number(row.dialed)}</td>
      <td className="num">{f.number(row.contacted)}</td>
      <td className="num">{f.number(row.success)}</td>
      <td className="num">{f.percent(row.conversion_rate)}</td>
      <td className="num">{f.percent(row.contact_rate)}</td>
      <td className="num">{f.decimal(row.attempts_per_success)}</td>
      <td className="num">{f.decimal(row.hours_to_success_median)}</td>
    </>
  );
}

/** A chart, or the same figures as a table for those who read tables (and screen readers). */
function ChartOrTable({ title, chart, table, extra }: { title: string; chart: ReactNode; table: ReactNode; extra?: ReactNode }) {
  const { t } = useI18n();
  const [view, setView] = useState<"chart" | "table">("chart");
  return (
    <Paper withBorder p="md" mb="md" component="section" aria-label={title}>
      <Group justify="space-between" mb="xs" wrap="wrap">
        <Title order={3} size="h4">
          {title}
        </Title>
        <Group gap="xs">
          {extra}
          <SegmentedControl
            size="xs"
            value={view}
            onChange={(v) => setView(v as "chart" | "table")}
            data={[
              { value: "chart", label: t("asChart") },
              { value: "table", label: t("asTable") },
            ]}
            aria-label={`${title}: ${t("asChart")} / ${t("asTable")}`}
          />
        </Group>
      </Group>
      {view === "chart" ? <Suspense fallback={<Loader size="sm" />}>{chart}</Suspense> : table}
    </Paper>
  );
}

function Funnel({ totals }: { totals: Row }) {
  const { t } = useI18n();
  const f = useFormat();
  const steps: [string, number][] = [
    [t("allocated"), totals.allocated],
    [t("leasedCount"), totals.leased],
    [t("dialed"), totals.dialed],
    [t("contacted"), totals.contacted],
    [t("successes"), totals.success],
  ];
  const option = useMemo(
    () => ({
      tooltip: { trigger: "item", valueFormatter: (v: number) => f.number(v) },
      series: [
        {
          type: "funnel",
          sort: "none",
          minSize: "4%",
          left: "5%",
          width: "90%",
          label: { show: true, position: "inside", formatter: (p: { name: string; value: number }) => `${p.name}: ${f.number(p.value)}` },
          data: steps.map(([name, value]) => ({ name, value })),
        },
      ],
    }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [totals, f],
  );
  return (
    <ChartOrTable
      title={t("funnel")}
      chart={<Chart option={option} height={220} label={t("funnel")} />}
      table={
        <div className="table-wrap" tabIndex={0}>
          <table aria-label={t("funnel")}>
            <tbody>
              {steps.map(([label, value]) => (
                <tr key={label}>
                  <th>{label}</th>
                  <td className="num">{f.number(value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      }
    />
  );
}

function OverTime({ rows }: { rows: Row[] }) {
  const { t } = useI18n();
  const f = useFormat();
  const days = useMemo(() => [...rows].sort((a, b) => a.keys[0].localeCompare(b.keys[0])), [rows]);
  const option = useMemo(
    () =>
      callsAndRateByDay(
        days.map((r) => ({ day: r.keys[0], dialed: r.dialed, success: r.success, rate: r.conversion_rate })),
        f,
        { dialed: t("dialed"), success: t("successes"), rate: t("conversionRate") },
      ),
    [days, f, t],
  );
  return (
    <ChartOrTable
      title={t("conversionOverTime")}
      chart={days.length === 0 ? <EmptyChart /> : <Chart option={option} label={t("conversionOverTime")} testId="over-time-chart" />}
      table={
        <div className="table-wrap" tabIndex={0}>
          <table aria-label={t("conversionOverTime")}>
            <thead>
              <tr>
                <th>{t("day")}</th>
                <th className="num">{t("dialed")}</th>
                <th className="num">{t("successes")}</th>
                <th className="num">{t("conversionRate")}</th>
              </tr>
            </thead>
            <tbody>
              {days.map((r) => (
                <tr key={r.keys[0]}>
                  <td>{f.day(r.keys[0])}</td>
                  <td className="num">{f.number(r.dialed)}</td>
                  <td className="num">{f.number(r.success)}</td>
                  <td className="num">{f.percent(r.conversion_rate)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      }
    />
  );
}

function EmptyChart() {
  const { t } = useI18n();
  return (
    <Text c="dimmed" size="sm" py="md">
      {t("noCallsYet")}
    </Text>
  );
}

/** A heat map option: `x` across, `y` down, each cell a rate shown as a percentage. */
function heatOption(x: string[], y: string[], cells: [number, number, number | null][], f: Format, tooltip: (xi: number, yi: number) => string) {
  const rates = cells.map((c) => c[2]).filter((v): v is number => v != null);
  return {
    tooltip: { formatter: (p: { data: [number, number, number | null] }) => tooltip(p.data[0], p.data[1]) },
    grid: { left: 8, right: 8, top: 8, bottom: 56, containLabel: true },
    xAxis: { type: "category", data: x, splitArea: { show: true } },
    yAxis: { type: "category", data: y, splitArea: { show: true }, inverse: true },
    visualMap: {
      min: 0,
      max: Math.max(0.0001, ...rates),
      calculable: true,
      orient: "horizontal",
      left: "center",
      bottom: 0,
      itemHeight: 120,
      formatter: (v: number) => f.percent(v),
      inRange: { color: ["#e6f4ea", "#1b7f46"] },
    },
    series: [{ type: "heatmap", data: cells, label: { show: x.length <= 12, formatter: (p: { data: [number, number, number | null] }) => f.percent(p.data[2]) } }],
  };
}

function HeatMap({ rows }: { rows: Row[] }) {
  const { t } = useI18n();
  const f = useFormat();
  const providers = [...new Set(rows.map((r) => r.labels[0]))].sort();
  const geos = [...new Set(rows.map((r) => r.labels[1]))].sort();
  const find = (p: string, g: string) => rows.find((r) => r.labels[0] === p && r.labels[1] === g);
  const option = useMemo(() => {
    const cells: [number, number, number | null][] = rows.map((r) => [geos.indexOf(r.labels[1]), providers.indexOf(r.labels[0]), r.conversion_rate ?? null]);
    return heatOption(geos, providers, cells, f, (gi, pi) => {
      const r = find(providers[pi], geos[gi]);
      return `${providers[pi]} × ${geos[gi]}<br/>${t("conversionRate")}: ${f.percent(r?.conversion_rate)}<br/>${t("dialed")}: ${f.number(r?.dialed)}`;
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rows, f, t]);
  return (
    <ChartOrTable
      title={t("heatMap")}
      chart={rows.length === 0 ? <EmptyChart /> : <Chart option={option} height={Math.max(220, 80 + providers.length * 36)} label={t("heatMap")} />}
      table={
        <div className="table-wrap" tabIndex={0}>
          <table className="heat" aria-label={t("heatMap")}>
            <thead>
              <tr>
                <th />
                {geos.map((g) => (
                  <th key={g}>{g}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {providers.map((p) => (
                <tr key={p}>
                  <th>{p}</th>
                  {geos.map((g) => (
                    <td key={g} className="num">
                      {f.percent(find(p, g)?.conversion_rate)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      }
    />
  );
}

function HourHeatMap({ cells }: { cells: Schemas["HourCell"][] }) {
  const { t, locale } = useI18n();
  const f = useFormat();
  const [measure, setMeasure] = useState<"conversion_rate" | "contact_rate">("conversion_rate");
  const grid = hourGrid(cells);
  const days = weekdayNames(intlLocale(locale));
  const hours = Array.from({ length: 24 }, (_, h) => String(h));
  const option = useMemo(() => {
    const data: [number, number, number | null][] = cells.map((c) => [c.hour, c.weekday - 1, c[measure] ?? null]);
    return heatOption(hours, days, data, f, (h, d) => {
      const c = grid[d][h];
      return `${days[d]} ${h}:00<br/>${t(measure === "conversion_rate" ? "conversionRate" : "contactRate")}: ${f.percent(c?.[measure])}<br/>${t("dialed")}: ${f.number(c?.dialed)} · ${t("contacted")}: ${f.number(c?.contacted)} · ${t("successes")}: ${f.number(c?.success)}`;
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cells, measure, f, t, locale]);
  return (
    <ChartOrTable
      title={t("hourHeatMap")}
      extra={
        <NativeSelect
          size="xs"
          aria-label={t("showRate")}
          value={measure}
          onChange={(e) => setMeasure(e.currentTarget.value as typeof measure)}
          data={[
            { value: "conversion_rate", label: t("conversionRate") },
            { value: "contact_rate", label: t("contactRate") },
          ]}
        />
      }
      chart={cells.length === 0 ? <EmptyChart /> : <Chart option={option} height={300} label={t("hourHeatMap")} />}
      table={
        <div className="table-wrap" tabIndex={0}>
          <table className="heat hours" aria-label="weekday × hour">
            <thead>
              <tr>
                <th />
                {hours.map((hour) => (
                  <th key={hour}>{hour}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {grid.map((hoursOfDay, day) => (
                <tr key={day}>
                  <th>{days[day]}</th>
                  {hoursOfDay.map((cell, hour) => (
                    <td key={hour} data-testid={cell ? `hour-${day + 1}-${hour}` : undefined} className="num">
                      {cell ? f.percent(cell[measure]) : ""}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      }
    />
  );
}

/** The route answers JSON unless asked for a file (`format=csv|xlsx`); this page asks
 * for JSON, so anything else is a server fault worth saying so. */
function asReport(body: unknown): Schemas["ConversionReport"] {
  if (typeof body !== "object" || body === null || Array.isArray(body) || !("rows" in body)) {
    throw new Error("the conversion report did not come as JSON");
  }
  return body as Schemas["ConversionReport"];
}
