// Project conversion: the report grouped by project, provider, geo, day or weekday, with
// totals, a funnel, conversion over time and heat maps of provider × geo and weekday ×
// hour; a project drills
// down to its providers and geos, and a cell links to the numbers behind it.
import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/ui";
import { useProjects } from "../lib/catalog";
import { conversionQuery, heatColor, hourGrid, percentText, sortRows, weekdayNames, type SortKey } from "../lib/conversion";
import { useI18n } from "../lib/i18n";

type Row = Schemas["ConversionRow"];

const GROUPINGS = ["project", "provider", "geo", "day", "weekday", "project,provider", "provider,geo"];

export function ConversionPage() {
  const { t, locale } = useI18n();
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
        <label>
          {t("fromDay")}
          <input type="date" value={query.from ?? ""} onChange={(e) => set({ from: e.target.value || undefined })} />
        </label>
        <label>
          {t("toDay")}
          <input type="date" value={query.to ?? ""} onChange={(e) => set({ to: e.target.value || undefined })} />
        </label>
        <a href={download("csv")}>CSV</a> <a href={download("xlsx")}>XLSX</a>
      </div>
      <ErrorText error={report.error} />
      {totals && <Funnel totals={totals} />}
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
                <Measures row={r} locale={locale} />
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
              <Measures row={totals} locale={locale} />
              <td />
            </tr>
          </tfoot>
        )}
      </table>
      <section className="panel" aria-label={t("conversionOverTime")}>
        <h3>{t("conversionOverTime")}</h3>
        <OverTime rows={overTime.data?.rows ?? []} />
      </section>
      <section className="panel" aria-label={t("heatMap")}>
        <h3>{t("heatMap")}</h3>
        <HeatMap rows={heat.data?.rows ?? []} />
      </section>
      <section className="panel" aria-label={t("hourHeatMap")}>
        <h3>{t("hourHeatMap")}</h3>
        <HourHeatMap cells={hours.data?.cells ?? []} />
      </section>
      {report.data?.refreshed_at && (
        <p className="muted">
          {t("refreshedAt")} {new Date(report.data.refreshed_at).toLocaleString(locale)}
        </p>
      )}
    </>
  );
}

function Measures({ row, locale }: { row: Row; locale: string }) {
  const n = (v: number) => v.toLocaleString(locale);
  return (
    <>
      <td className="num">{n(row.allocated)}</td>
      <td className="num">{n(row.leased)}</td>
      <td className="num">{n(row.dialed)}</td>
      <td className="num">{n(row.contacted)}</td>
      <td className="num">{n(row.success)}</td>
      <td className="num">{percentText(row.conversion_rate)}</td>
      <td className="num">{percentText(row.contact_rate)}</td>
      <td className="num">{row.attempts_per_success == null ? "–" : row.attempts_per_success.toFixed(1)}</td>
      <td className="num">{row.hours_to_success_median == null ? "–" : row.hours_to_success_median.toFixed(1)}</td>
    </>
  );
}

function Funnel({ totals }: { totals: Row }) {
  const { t } = useI18n();
  const steps: [string, number][] = [
    [t("allocated"), totals.allocated],
    [t("leasedCount"), totals.leased],
    [t("dialed"), totals.dialed],
    [t("contacted"), totals.contacted],
    [t("successes"), totals.success],
  ];
  const top = Math.max(1, ...steps.map(([, v]) => v));
  return (
    <section className="panel funnel" aria-label={t("funnel")}>
      {steps.map(([label, value]) => (
        <div key={label} className="funnel-step">
          <span>{label}</span>
          <span className="bar" style={{ width: `${(100 * value) / top}%` }} />
          <span className="num">{value.toLocaleString()}</span>
        </div>
      ))}
    </section>
  );
}

function OverTime({ rows }: { rows: Row[] }) {
  const days = rows.filter((r) => r.dialed > 0);
  if (days.length === 0) return <p className="muted">–</p>;
  const top = Math.max(0.0001, ...days.map((r) => r.conversion_rate ?? 0));
  const width = Math.max(200, days.length * 14);
  return (
    <svg width={width} height={120} role="img" aria-label="conversion by day">
      {days.map((r, i) => {
        const h = (100 * (r.conversion_rate ?? 0)) / top;
        return (
          <rect key={r.keys[0]} x={i * 14} y={110 - h} width={10} height={h} className="bar">
            <title>{`${r.keys[0]}: ${percentText(r.conversion_rate)}`}</title>
          </rect>
        );
      })}
    </svg>
  );
}

function HeatMap({ rows }: { rows: Row[] }) {
  const providers = [...new Set(rows.map((r) => r.labels[0]))].sort();
  const geos = [...new Set(rows.map((r) => r.labels[1]))].sort();
  const rate = (p: string, g: string) => rows.find((r) => r.labels[0] === p && r.labels[1] === g)?.conversion_rate;
  const top = Math.max(0.0001, ...rows.map((r) => r.conversion_rate ?? 0));
  if (rows.length === 0) return <p className="muted">–</p>;
  return (
    <table className="heat" aria-label="provider × geo">
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
            {geos.map((g) => {
              const value = rate(p, g);
              return (
                <td key={g} className="num" style={{ background: heatColor(value, top) }}>
                  {percentText(value)}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function HourHeatMap({ cells }: { cells: Schemas["HourCell"][] }) {
  const { t, locale } = useI18n();
  const [measure, setMeasure] = useState<"conversion_rate" | "contact_rate">("conversion_rate");
  if (cells.length === 0) return <p className="muted">–</p>;
  const grid = hourGrid(cells);
  const days = weekdayNames(locale);
  const top = Math.max(0.0001, ...cells.map((c) => c[measure] ?? 0));
  return (
    <>
      <label>
        {t("showRate")}{" "}
        <select value={measure} onChange={(e) => setMeasure(e.target.value as typeof measure)}>
          <option value="conversion_rate">{t("conversionRate")}</option>
          <option value="contact_rate">{t("contactRate")}</option>
        </select>
      </label>
      <table className="heat hours" aria-label="weekday × hour">
        <thead>
          <tr>
            <th />
            {Array.from({ length: 24 }, (_, hour) => (
              <th key={hour}>{hour}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {grid.map((hoursOfDay, day) => (
            <tr key={day}>
              <th>{days[day]}</th>
              {hoursOfDay.map((cell, hour) => (
                <td
                  key={hour}
                  data-testid={cell ? `hour-${day + 1}-${hour}` : undefined}
                  className="num"
                  style={{ background: heatColor(cell?.[measure], top) }}
                  title={cell ? `${days[day]} ${hour}:00 — ${t("dialed")} ${cell.dialed}, ${t("contacted")} ${cell.contacted}, ${t("successes")} ${cell.success}` : undefined}
                >
                  {cell ? percentText(cell[measure]) : ""}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </>
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
