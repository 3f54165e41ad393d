// Jobs and schedules: the queue with live progress, errors per attempt, cancel and retry;
// the cron schedules with their next fire time, editable (cron, zone, on/off) in place.
import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/ui";
import { formatDate, percent } from "../lib/format";
import { useI18n } from "../lib/i18n";

type Job = Schemas["JobRecord"];
type Schedule = Schemas["Schedule"];
type JobState = Schemas["JobState"];

const STATES: JobState[] = ["queued", "running", "retrying", "succeeded", "dead", "cancelled"];

export function JobsPage() {
  const { t, locale } = useI18n();
  const queryClient = useQueryClient();
  const [state, setState] = useState<JobState | "">("");
  const [error, setError] = useState<unknown>(null);
  const jobs = useQuery({
    queryKey: ["jobs", state],
    queryFn: async () => unwrap(await api.GET("/api/v1/jobs", { params: { query: { state: state || undefined, limit: 100 } } })),
    // Workers record progress every few seconds.
    refetchInterval: 2000,
  });
  async function act(path: "/api/v1/jobs/{id}/cancel" | "/api/v1/jobs/{id}/retry", id: number) {
    setError(null);
    try {
      unwrap(await api.POST(path, { params: { path: { id } } }));
      await queryClient.invalidateQueries({ queryKey: ["jobs"] });
    } catch (err) {
      setError(err);
    }
  }
  return (
    <>
      <h2>{t("jobs")}</h2>
      <div className="toolbar">
        <label>
          {t("status")}
          <select value={state} onChange={(e) => setState(e.target.value as JobState | "")}>
            <option value="">{t("any")}</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorText error={error ?? jobs.error} />
      <div className="table-wrap">
      <table aria-label={t("jobs")}>
        <thead>
          <tr>
            <th>#</th>
            <th>{t("kind")}</th>
            <th>{t("status")}</th>
            <th>{t("progress")}</th>
            <th>{t("attempts")}</th>
            <th>{t("created")}</th>
            <th>{t("lastError")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(jobs.data ?? []).length === 0 && (
            <tr>
              <td colSpan={8} className="muted">
                {t("noRows")}
              </td>
            </tr>
          )}
          {(jobs.data ?? []).map((job) => (
            <JobRow key={job.id} job={job} locale={locale} onCancel={() => act("/api/v1/jobs/{id}/cancel", job.id)} onRetry={() => act("/api/v1/jobs/{id}/retry", job.id)} />
          ))}
        </tbody>
      </table>
</div>
      <Schedules />
    </>
  );
}

function JobRow({ job, locale, onCancel, onRetry }: { job: Job; locale: string; onCancel: () => void; onRetry: () => void }) {
  const { t } = useI18n();
  const progress = job.progress as { done?: number; total?: number; message?: string };
  const errors = (job.errors as { attempt: number; error: string }[]) ?? [];
  const last = errors[errors.length - 1];
  return (
    <tr data-testid={`job-${job.id}`}>
      <td>{job.id}</td>
      <td>{job.kind}</td>
      <td>
        {job.state}
        {job.cancel_requested && job.state === "running" ? ` (${t("cancelling")})` : ""}
      </td>
      <td>
        {job.state === "running" && progress.total ? <progress max={100} value={percent(progress.done ?? 0, progress.total)} /> : null}{" "}
        {job.state === "running" ? (progress.message ?? "") : <JobResult job={job} />}
      </td>
      <td>
        {job.attempts} / {job.max_attempts}
      </td>
      <td>{formatDate(job.created_at, locale)}</td>
      <td className="error" title={errors.map((e) => `#${e.attempt}: ${e.error}`).join("\n")}>
        {last ? last.error : ""}
      </td>
      <td>
        {["queued", "retrying", "running"].includes(job.state) && !job.cancel_requested && <button onClick={onCancel}>{t("cancel")}</button>}
        {["dead", "cancelled"].includes(job.state) && <button onClick={onRetry}>{t("retry")}</button>}
      </td>
    </tr>
  );
}

function Schedules() {
  const { t, locale } = useI18n();
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const schedules = useQuery({ queryKey: ["schedules"], queryFn: async () => unwrap(await api.GET("/api/v1/schedules")) });
  async function save(s: Schedule, change: Partial<Schemas["ScheduleInput"]>) {
    setError(null);
    try {
      unwrap(
        await api.PUT("/api/v1/schedules/{id}", {
          params: { path: { id: s.id } },
          body: { name: s.name, cron: s.cron, time_zone: s.time_zone, kind: s.kind, args: s.args, enabled: s.enabled, ...change },
        }),
      );
      await queryClient.invalidateQueries({ queryKey: ["schedules"] });
    } catch (err) {
      setError(err);
    }
  }
  return (
    <section className="panel" aria-label={t("schedules")}>
      <h3>{t("schedules")}</h3>
      <ErrorText error={error ?? schedules.error} />
      <div className="table-wrap">
      <table aria-label={t("schedules")}>
        <thead>
          <tr>
            <th>{t("name")}</th>
            <th>{t("kind")}</th>
            <th>cron</th>
            <th>{t("timeZone")}</th>
            <th>{t("nextRun")}</th>
            <th>{t("enabled")}</th>
          </tr>
        </thead>
        <tbody>
          {(schedules.data ?? []).map((s) => (
            <tr key={s.id} data-testid={`schedule-${s.id}`}>
              <td>{s.name}</td>
              <td>{s.kind}</td>
              <td>
                <input
                  aria-label={`cron ${s.name}`}
                  defaultValue={s.cron}
                  onBlur={(e) => e.target.value !== s.cron && save(s, { cron: e.target.value })}
                />
              </td>
              <td>
                <input
                  aria-label={`${t("timeZone")} ${s.name}`}
                  defaultValue={s.time_zone}
                  onBlur={(e) => e.target.value !== s.time_zone && save(s, { time_zone: e.target.value })}
                />
              </td>
              <td>{formatDate(s.next_fire_at, locale)}</td>
              <td>
                <input type="checkbox" aria-label={`${t("enabled")} ${s.name}`} checked={s.enabled} onChange={(e) => save(s, { enabled: e.target.checked })} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
</div>
    </section>
  );
}

/** What a finished job did, where its result says it in numbers (an import's rows). */
function JobResult({ job }: { job: Job }) {
  const { t, locale } = useI18n();
  const result = job.result as { total?: number; inserted?: number; updated?: number } | null;
  if (job.state !== "succeeded" || result?.total === undefined) return null;
  const stored = (result.inserted ?? 0) + (result.updated ?? 0);
  const number = (n: number) => n.toLocaleString(locale);
  return (
    <span data-testid="job-result">
      {number(result.total)} {t("rowsRead")}, {number(stored)} {t("rowsStored")}
    </span>
  );
}
