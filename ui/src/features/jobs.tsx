// Jobs and schedules: the queue with live progress, errors per attempt, cancel and retry;
// the cron schedules with their next fire time, editable (cron, zone, on/off) in place.
import { useState } from "react";
import { Badge, Button, Checkbox, NativeSelect, Paper, Progress, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/ui";
import { CronInput } from "../components/CronInput";
import { notifyDone, notifyFailed } from "../components/feedback";
import { TimeZoneSelect } from "../components/pickers";
import { percent, useFormat } from "../lib/format";
import { useI18n } from "../lib/i18n";

type Job = Schemas["JobRecord"];
type Schedule = Schemas["Schedule"];
type JobState = Schemas["JobState"];

const STATES: JobState[] = ["queued", "running", "retrying", "succeeded", "dead", "cancelled"];

/** A state's colour: settled green, failed red, waiting grey, moving blue. */
export const STATE_COLOURS: Record<string, string> = { queued: "gray", running: "blue", retrying: "yellow", succeeded: "teal", dead: "red", failed: "red", cancelled: "gray" };

export function StateBadge({ state, kind = "jobState" }: { state: string; kind?: string }) {
  const { label } = useI18n();
  return (
    <Badge color={`${STATE_COLOURS[state] ?? "gray"}.9`} variant="filled" autoContrast radius="sm" style={{ textTransform: "none" }}>
      {label(kind, state)}
    </Badge>
  );
}

export function JobsPage() {
  const { t, label, locale } = useI18n();
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
      notifyDone(t("done"));
    } catch (err) {
      setError(err);
      notifyFailed(err, locale);
    }
  }
  return (
    <>
      <h2>{t("jobs")}</h2>
      <div className="toolbar">
        <NativeSelect
          label={t("status")}
          value={state}
          onChange={(e) => setState(e.currentTarget.value as JobState | "")}
          data={[{ value: "", label: t("any") }, ...STATES.map((s) => ({ value: s, label: label("jobState", s) }))]}
        />
      </div>
      <ErrorText error={error ?? jobs.error} />
      <div className="table-wrap" tabIndex={0}>
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
            <JobRow key={job.id} job={job} onCancel={() => act("/api/v1/jobs/{id}/cancel", job.id)} onRetry={() => act("/api/v1/jobs/{id}/retry", job.id)} />
          ))}
        </tbody>
      </table>
</div>
      <Schedules />
    </>
  );
}

function JobRow({ job, onCancel, onRetry }: { job: Job; onCancel: () => void; onRetry: () => void }) {
  const { t, label } = useI18n();
  const f = useFormat();
  const progress = job.progress as { done?: number; total?: number; message?: string };
  const errors = (job.errors as { attempt: number; error: string }[]) ?? [];
  const last = errors[errors.length - 1];
  return (
    <tr data-testid={`job-${job.id}`}>
      <td>{job.id}</td>
      <td>{label("jobKind", job.kind)}</td>
      <td>
        <StateBadge state={job.state} />
        {job.cancel_requested && job.state === "running" ? ` (${t("cancelling")})` : ""}
      </td>
      <td>
        {job.state === "running" && progress.total ? <Progress value={percent(progress.done ?? 0, progress.total)} size="sm" aria-label={t("progress")} /> : null}{" "}
        {job.state === "running" ? (progress.message ?? "") : <JobResult job={job} />}
      </td>
      <td>
        {job.attempts} / {job.max_attempts}
      </td>
      <td>{f.dateTime(job.created_at)}</td>
      <td className="error" title={errors.map((e) => `#${e.attempt}: ${e.error}`).join("\n")}>
        {last ? last.error : ""}
      </td>
      <td>
        {["queued", "retrying", "running"].includes(job.state) && !job.cancel_requested && (
          <Button size="xs" variant="default" onClick={onCancel}>
            {t("cancel")}
          </Button>
        )}
        {["dead", "cancelled"].includes(job.state) && (
          <Button size="xs" variant="default" onClick={onRetry}>
            {t("retry")}
          </Button>
        )}
      </td>
    </tr>
  );
}

function Schedules() {
  const { t, label, locale } = useI18n();
  const f = useFormat();
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
      notifyDone(t("saved"));
    } catch (err) {
      setError(err);
      notifyFailed(err, locale);
    }
  }
  return (
    <Paper withBorder p="md" component="section" aria-label={t("schedules")}>
      <Title order={3} size="h4" mb="xs">
        {t("schedules")}
      </Title>
      <ErrorText error={error ?? schedules.error} />
      <div className="table-wrap" tabIndex={0}>
      <table aria-label={t("schedules")}>
        <thead>
          <tr>
            <th>{t("name")}</th>
            <th>{t("kind")}</th>
            <th>{t("when")}</th>
            <th>{t("timeZone")}</th>
            <th>{t("nextRun")}</th>
            <th>{t("enabled")}</th>
          </tr>
        </thead>
        <tbody>
          {(schedules.data ?? []).map((s) => (
            <tr key={s.id} data-testid={`schedule-${s.id}`}>
              {/* A built-in schedule is named by what it does, in the reader's language. */}
              <td>{s.system_key ? label("jobKind", s.system_key) : s.name}</td>
              <td>{label("jobKind", s.kind)}</td>
              <td style={{ minWidth: 220 }}>
                <CronInput
                  key={s.cron}
                  aria-label={`cron ${s.name}`}
                  size="xs"
                  defaultValue={s.cron}
                  onBlur={(e) => e.currentTarget.value !== s.cron && save(s, { cron: e.currentTarget.value })}
                  onPick={(cron) => save(s, { cron })}
                />
              </td>
              <td style={{ minWidth: 200 }}>
                <TimeZoneSelect size="xs" aria-label={`${t("timeZone")} ${s.name}`} value={s.time_zone} onChange={(zone) => zone && zone !== s.time_zone && save(s, { time_zone: zone })} />
              </td>
              <td>{f.dateTime(s.next_fire_at)}</td>
              <td>
                <Checkbox aria-label={`${t("enabled")} ${s.name}`} checked={s.enabled} onChange={(e) => save(s, { enabled: e.currentTarget.checked })} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
</div>
    </Paper>
  );
}

/** What a finished job did, where its result says it in numbers (an import's rows). */
function JobResult({ job }: { job: Job }) {
  const { t } = useI18n();
  const f = useFormat();
  const result = job.result as { total?: number; inserted?: number; updated?: number } | null;
  if (job.state !== "succeeded" || result?.total === undefined) return null;
  const stored = (result.inserted ?? 0) + (result.updated ?? 0);
  const number = f.number;
  return (
    <span data-testid="job-result">
      {number(result.total)} {t("rowsRead")}, {number(stored)} {t("rowsStored")}
    </span>
  );
}
