// The home page: each project's today (in its own zone) — allocated against the daily
// quota, leased, dialed, reached, successes — with totals and the work running now,
// pushed by the server as they change (Server-Sent Events), polled while the stream is down.
import { Suspense, lazy, useEffect, useMemo, useState } from "react";
import { Alert, Loader, Paper, Progress, SimpleGrid, Text, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/ui";
import { percent, useFormat } from "../lib/format";
import { callsAndRateByDay } from "../lib/charts";

const Chart = lazy(() => import("../components/Chart"));

/** The trend's length: two weeks shows a weekday pattern twice. */
const TREND_DAYS = 14;
import { useI18n } from "../lib/i18n";

/** How often the figures are polled while the event stream is down. */
const POLL_MS = 5000;

export function DashboardPage() {
  const { t } = useI18n();
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
  const f = useFormat();
  const n = f.number;
  return (
    <>
      <h2>{t("dashboard")}</h2>
      <ErrorText error={board.error} />
      {data && (
        <>
          <SimpleGrid component="section" cols={{ base: 2, sm: 3, lg: 6 }} spacing="sm" mb="md" aria-label={t("todayTotals")}>
            <Card label={t("allocated")} value={n(data.totals.allocated)} />
            <Card label={t("leasedCount")} value={n(data.totals.leased)} />
            <Card label={t("dialed")} value={n(data.totals.dialed)} />
            <Card label={t("contacted")} value={n(data.totals.contacted)} />
            <Card label={t("successes")} value={n(data.totals.success)} />
            <Card label={t("conversionRate")} value={f.percent(data.totals.conversion_rate)} />
          </SimpleGrid>
          {data.stale_dnc_lists.length > 0 && (
            <Alert color={data.stale_dnc_lists.some((l) => l.block_when_stale) ? "red" : "orange"} mb="md" role="alert" title={t("dncLists")}>
              {t("staleDncWarning", { names: data.stale_dnc_lists.map((l) => l.name).join(", ") })}{" "}
              {data.stale_dnc_lists.some((l) => l.block_when_stale) && t("staleDncBlocking")}
            </Alert>
          )}
          <Trend />
          <div className="table-wrap" tabIndex={0}>
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
                    {t("emptyToday")} <Link to="/projects/new">{t("goToProjects")}</Link>
                  </td>
                </tr>
              )}
              {data.projects.map((p) => (
                <tr key={p.project_id} data-testid={`today-${p.name}`}>
                  <td>
                    <Link to={`/conversion?project_id=${p.project_id}&by=provider,geo`}>{p.name}</Link>
                    {p.status === "paused" && <span className="muted"> ({t("paused")})</span>}
                  </td>
                  <td>{f.day(p.day)}</td>
                  <td>
                    <Quota allocated={p.allocated} quota={p.daily_quota} />
                  </td>
                  <td className="num">{n(p.leased)}</td>
                  <td className="num">{n(p.dialed)}</td>
                  <td className="num">{n(p.contacted)}</td>
                  <td className="num">{n(p.success)}</td>
                  <td className="num">{f.percent(p.conversion_rate)}</td>
                </tr>
              ))}
            </tbody>
          </table>
</div>
          <Paper withBorder p="md" mb="md" component="section" aria-label={t("runningNow")}>
            <Title order={3} size="h4" mb="xs">
              {t("runningNow")}
            </Title>
            <Running exports={data.running_exports} imports={data.running_imports} />
          </Paper>
          <Text c="dimmed" size="sm">
            {t("updatedAt")} {f.dateTime(data.at)}
            {data.conversion_refreshed_at && ` · ${t("refreshedAt")} ${f.dateTime(data.conversion_refreshed_at)}`}
          </Text>
        </>
      )}
    </>
  );
}

function Card({ label, value }: { label: string; value: string }) {
  return (
    <Paper withBorder p="sm">
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Text fz={26} fw={650} style={{ fontVariantNumeric: "tabular-nums" }}>
        {value}
      </Text>
    </Paper>
  );
}

/** The last two weeks across the caller's projects: calls, successes and the rate. */
function Trend() {
  const { t } = useI18n();
  const f = useFormat();
  // The window starts when the page opens; a page left open overnight keeps its window.
  const [from] = useState(() => new Date(Date.now() - (TREND_DAYS - 1) * 86_400_000).toISOString().slice(0, 10));
  const report = useQuery({
    queryKey: ["conversion", { by: "day", from }],
    queryFn: async () => unwrap(await api.GET("/api/v1/conversion", { params: { query: { by: "day", from } } })) as Schemas["ConversionReport"],
  });
  const days = useMemo(() => {
    // Every day of the window, calls or not, so a quiet day shows as a gap in the trend.
    const byDay = new Map((report.data?.rows ?? []).map((r) => [r.keys[0], r]));
    return Array.from({ length: TREND_DAYS }, (_, i) => {
      const day = new Date(Date.parse(`${from}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10);
      return { day, row: byDay.get(day) };
    });
  }, [report.data, from]);
  const option = useMemo(
    () =>
      callsAndRateByDay(
        days.map((d) => ({ day: d.day, dialed: d.row?.dialed ?? 0, success: d.row?.success ?? 0, rate: d.row?.conversion_rate })),
        f,
        { dialed: t("dialed"), success: t("successes"), rate: t("conversionRate") },
      ),
    [days, f, t],
  );
  return (
    <Paper withBorder p="md" mb="md" component="section" aria-label={t("trend")}>
      <Title order={3} size="h4" mb="xs">
        {t("trend")}
      </Title>
      <Suspense fallback={<Loader size="sm" />}>
        <Chart option={option} height={240} label={t("trend")} testId="trend-chart" />
      </Suspense>
    </Paper>
  );
}

function Quota({ allocated, quota }: { allocated: number; quota: number }) {
  const f = useFormat();
  if (quota <= 0) return <span>{f.number(allocated)}</span>;
  return (
    <span className="quota">
      <Progress value={percent(allocated, quota)} size="sm" w={80} aria-label={`${f.number(allocated)} / ${f.number(quota)}`} style={{ display: "inline-block", verticalAlign: "middle" }} />{" "}
      {f.number(allocated)} / {f.number(quota)}
    </span>
  );
}

function Running({ exports, imports }: { exports: Schemas["ExportRecord"][]; imports: Schemas["ImportTaskView"][] }) {
  const { t } = useI18n();
  const f = useFormat();
  if (exports.length === 0 && imports.length === 0) return <Text c="dimmed">{t("nothingRunning")}</Text>;
  return (
    <ul className="running">
      {exports.map((x) => (
        <li key={`export-${x.id}`}>
          <Link to="/exports">{t("exports")}</Link>: {x.project} · {x.format} · {f.number(x.rows)} {t("rows")} · {t("started")} {f.dateTime(x.started_at)}
        </li>
      ))}
      {imports.map((i) => (
        <li key={`import-${i.task_id}`}>
          <Link to="/imports">{t("imports")}</Link>: {i.file_name} ({i.provider_code}) · <Progress value={percent(i.bytes_read, i.bytes_total)} size="sm" w={80} style={{ display: "inline-block" }} aria-label={f.bytes(i.bytes_read)} />{" "}
          {f.bytes(i.bytes_read)} / {f.bytes(i.bytes_total)} · {f.number(i.rows_read)} {t("rows")}
        </li>
      ))}
    </ul>
  );
}
