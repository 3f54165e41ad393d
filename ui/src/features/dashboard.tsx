// The home page: each project's today (in its own zone) — allocated against the daily
// quota, leased, dialed, reached, successes — with totals and the work running now,
// pushed by the server as they change (Server-Sent Events), polled while the stream is down.
import { useEffect, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/ui";
import { percentText } from "../lib/conversion";
import { formatBytes, formatDate, percent } from "../lib/format";
import { useI18n } from "../lib/i18n";

/** How often the figures are polled while the event stream is down. */
const POLL_MS = 5000;

export function DashboardPage() {
  const { t, locale } = useI18n();
  const queryClient = useQueryClient();
  const [streaming, setStreaming] = useState(false);
  useEffect(() => {
    // The browser reconnects by itself when the stream drops or ends.
    const source = new EventSource("/api/v1/dashboard/events");
    source.addEventListener("dashboard", (e) => {
      queryClient.setQueryData(["dashboard"], JSON.parse((e as MessageEvent).data));
      setStreaming(true);
    });
    source.onerror = () => setStreaming(false);
    return () => source.close();
  }, [queryClient]);
  const board = useQuery({
    queryKey: ["dashboard"],
    queryFn: async () => unwrap(await api.GET("/api/v1/dashboard")),
    refetchInterval: streaming ? false : POLL_MS,
  });
  const data = board.data;
  const n = (v: number) => v.toLocaleString(locale);
  return (
    <>
      <h2>{t("dashboard")}</h2>
      <ErrorText error={board.error} />
      {data && (
        <>
          <section className="cards" aria-label={t("todayTotals")}>
            <Card label={t("allocated")} value={n(data.totals.allocated)} />
            <Card label={t("leasedCount")} value={n(data.totals.leased)} />
            <Card label={t("dialed")} value={n(data.totals.dialed)} />
            <Card label={t("contacted")} value={n(data.totals.contacted)} />
            <Card label={t("successes")} value={n(data.totals.success)} />
            <Card label={t("conversionRate")} value={percentText(data.totals.conversion_rate)} />
          </section>
          <table aria-label={t("todayByProject")}>
            <thead>
              <tr>
                <th>{t("project")}</th>
                <th>{t("day")}</th>
                <th>{t("allocatedOfQuota")}</th>
                <th className="num">{t("leasedCount")}</th>
                <th className="num">{t("dialed")}</th>
                <th className="num">{t("contacted")}</th>
                <th className="num">{t("successes")}</th>
                <th className="num">{t("conversionRate")}</th>
              </tr>
            </thead>
            <tbody>
              {data.projects.length === 0 && (
                <tr>
                  <td colSpan={8} className="muted">
                    {t("noRows")}
                  </td>
                </tr>
              )}
              {data.projects.map((p) => (
                <tr key={p.project_id} data-testid={`today-${p.name}`}>
                  <td>
                    <Link to={`/conversion?project_id=${p.project_id}&by=provider,geo`}>{p.name}</Link>
                    {p.status === "paused" && <span className="muted"> ({t("paused")})</span>}
                  </td>
                  <td>{p.day}</td>
                  <td>
                    <Quota allocated={p.allocated} quota={p.daily_quota} />
                  </td>
                  <td className="num">{n(p.leased)}</td>
                  <td className="num">{n(p.dialed)}</td>
                  <td className="num">{n(p.contacted)}</td>
                  <td className="num">{n(p.success)}</td>
                  <td className="num">{percentText(p.conversion_rate)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <section className="panel" aria-label={t("runningNow")}>
            <h3>{t("runningNow")}</h3>
            <Running exports={data.running_exports} imports={data.running_imports} />
          </section>
          <p className="muted">
            {t("updatedAt")} {formatDate(data.at, locale)}
            {data.conversion_refreshed_at && ` · ${t("refreshedAt")} ${formatDate(data.conversion_refreshed_at, locale)}`}
          </p>
        </>
      )}
    </>
  );
}

function Card({ label, value }: { label: string; value: string }) {
  return (
    <div className="card">
      <span className="muted">{label}</span>
      <strong>{value}</strong>
    </div>
  );
}

function Quota({ allocated, quota }: { allocated: number; quota: number }) {
  if (quota <= 0) return <span>{allocated.toLocaleString()}</span>;
  return (
    <span className="quota" title={`${allocated} / ${quota}`}>
      <progress max={100} value={percent(allocated, quota)} /> {allocated.toLocaleString()} / {quota.toLocaleString()}
    </span>
  );
}

function Running({ exports, imports }: { exports: Schemas["ExportRecord"][]; imports: Schemas["ImportTaskView"][] }) {
  const { t, locale } = useI18n();
  if (exports.length === 0 && imports.length === 0) return <p className="muted">{t("nothingRunning")}</p>;
  return (
    <ul className="running">
      {exports.map((x) => (
        <li key={`export-${x.id}`}>
          <Link to="/exports">{t("exports")}</Link>: {x.project} · {x.format} · {x.rows.toLocaleString(locale)} {t("rows")} ·{" "}
          {t("started")} {formatDate(x.started_at, locale)}
        </li>
      ))}
      {imports.map((i) => (
        <li key={`import-${i.task_id}`}>
          <Link to="/imports">{t("imports")}</Link>: {i.file_name} ({i.provider_code}) · <progress max={100} value={percent(i.bytes_read, i.bytes_total)} />{" "}
          {formatBytes(i.bytes_read)} / {formatBytes(i.bytes_total)} · {i.rows_read.toLocaleString(locale)} {t("rows")}
        </li>
      ))}
    </ul>
  );
}
