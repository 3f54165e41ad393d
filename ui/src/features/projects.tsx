// Projects: the list with today's fill and pool forecast, the pool editor with a live
// dry-run preview, allocation runs, deleted projects (restore, purge), and "explain this
// number".
import { useEffect, useState, type FormEvent } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/ui";
import { useReasonText } from "../components/Reasons";
import { confirmAction } from "../components/feedback";
import { DatePickerInput } from "@mantine/dates";
import { GeoSelect, ProviderSelect, TimeZoneSelect } from "../components/pickers";
import { ScheduleGrid } from "../components/ScheduleGrid";
import { useCatalog } from "../lib/catalog";
import { useFormat } from "../lib/format";
import { useI18n, type MessageKey } from "../lib/i18n";
import { WEEKDAYS, formatDay, parseDay, parseHolidays, type Window } from "../lib/schedule";

type ProjectInput = Schemas["ProjectInput"];
type Report = Schemas["Report"];
type ProjectRun = Schemas["ProjectRun"];

const WEEKDAY_KEYS: MessageKey[] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** `canWrite`: the signed-in user holds `projects.write` (create, change, allocate). */
export function ProjectsPage({ canWrite }: { canWrite: boolean }) {
  const { t, label } = useI18n();
  const queryClient = useQueryClient();
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<unknown>(null);
  const list = useQuery({ queryKey: ["projects"], queryFn: async () => unwrap(await api.GET("/api/v1/projects")) });
  const forecast = useQuery({ queryKey: ["forecast"], queryFn: async () => unwrap(await api.GET("/api/v1/allocation/forecast")) });
  async function allocate(dryRun: boolean) {
    setError(null);
    try {
      const result = dryRun
        ? unwrap(await api.POST("/api/v1/allocation/dry-run", { body: {} }))
        : unwrap(await api.POST("/api/v1/allocation/run", { body: {} }));
      setReport(result);
      if (!dryRun) await queryClient.invalidateQueries({ queryKey: ["projects"] });
      await queryClient.invalidateQueries({ queryKey: ["forecast"] });
    } catch (err) {
      setError(err);
    }
  }
  return (
    <>
      <h2>{t("projects")}</h2>
      <div className="toolbar">
        {canWrite && (
          <>
            <Link className="button primary" to="/projects/new">
              {t("create")}
            </Link>
            <button onClick={() => allocate(true)}>{t("dryRun")}</button>
            <button className="primary" onClick={() => allocate(false)}>
              {t("allocateNow")}
            </button>
          </>
        )}
        <Link to="/projects/deleted">{t("deletedProjects")}</Link>
      </div>
      <ErrorText error={list.error ?? error} />
      <div className="table-wrap" tabIndex={0}>
      <table aria-label={t("projects")}>
        <thead>
          <tr>
            <th>{t("name")}</th>
            <th>{t("status")}</th>
            <th className="num">{t("todayFill")}</th>
            <th className="num">{t("numbersHeld")}</th>
            <th className="num">{t("eligible")}</th>
            <th className="num">{t("daysLeft")}</th>
          </tr>
        </thead>
        <tbody>
          {list.data?.map((p) => {
            const f = forecast.data?.find((x) => x.project_id === p.id);
            const fill = p.daily_quota > 0 ? Math.min(1, p.allocated_today / p.daily_quota) : 0;
            return (
              <tr key={p.id}>
                <td>
                  <Link to={`/projects/${p.id}`}>{p.name}</Link>
                </td>
                <td>{label("projectStatus", p.status)}</td>
                <td className="num" data-testid={`fill-${p.id}`}>
                  <meter min={0} max={1} value={fill} /> {p.allocated_today} / {p.daily_quota}
                </td>
                <td className="num">{p.numbers}</td>
                <td className="num">{f?.eligible ?? "…"}</td>
                <td className="num">{f?.days_left != null ? f.days_left.toFixed(1) : "–"}</td>
              </tr>
            );
          })}
          {list.data?.length === 0 && (
            <tr>
              <td colSpan={6} className="muted">
                {t("noProjects")}
              </td>
            </tr>
          )}
        </tbody>
      </table>
</div>
      {report && <RunReport report={report} />}
      <ExplainBox />
    </>
  );
}

function RunReport({ report, only }: { report: Report; only?: number }) {
  const { t, label } = useI18n();
  const f = useFormat();
  const runs = report.projects.filter((p) => only === undefined || p.project_id === only);
  return (
    <section className="panel" aria-label={t("allocationReport")}>
      <h3>
        {report.dry_run ? t("wouldAllocate") : t("allocated")}: {f.number(report.allocated)}
      </h3>
      <div className="table-wrap" tabIndex={0}>
      <table>
        <thead>
          <tr>
            <th>{t("name")}</th>
            <th>{t("day")}</th>
            <th>{t("state")}</th>
            <th className="num">{t("allocated")}</th>
            <th className="num">{t("eligible")}</th>
            <th>{t("skipped")}</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((p) => (
            <tr key={p.project_id}>
              <td>{p.name}</td>
              <td>{f.day(p.day)}</td>
              <td>{label("runState", p.state)}</td>
              <td className="num">{t("allocatedOfQuotaRun", { total: f.number(p.allocated_before + p.allocated), quota: f.number(p.daily_quota), added: f.number(p.allocated) })}</td>
              <td className="num">{f.number(p.eligible)}</td>
              <td>{skippedText(p, t, f.number)}</td>
            </tr>
          ))}
        </tbody>
      </table>
</div>
    </section>
  );
}

function skippedText(p: ProjectRun, t: (k: MessageKey, vars?: Record<string, string | number>) => string, n: (v: number) => string = String) {
  const s = p.skipped;
  const parts: [MessageKey, number][] = [
    ["skip.heldByOther", s.held_by_other_project],
    ["skip.dnc", s.dnc],
    ["skip.status", s.status],
    ["skip.maxAttempts", s.max_attempts],
    ["skip.coolingDown", s.cooling_down],
    ["skip.outsideSchedule", s.outside_schedule],
  ];
  const text = parts
    .filter(([, count]) => count > 0)
    .map(([k, count]) => t(k, { count: n(count) }))
    .join("; ");
  return text || "–";
}

const EMPTY: ProjectInput = {
  name: "",
  status: "active",
  time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
  daily_quota: 1000,
  max_attempts: 5,
  priority: 0,
  exclusive: false,
  allocation_order: "newest",
  on_final: "keep",
  sources: [],
  windows: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: "09:00", end: "18:00" })),
  holidays: [],
};

/** Read-only without `canWrite`: no save, no delete, no preview (which allocates in a
 * rolled-back transaction and needs the same permission). */
export function ProjectEditor({ canWrite }: { canWrite: boolean }) {
  const { t, label } = useI18n();
  const { id } = useParams();
  const projectId = id && id !== "new" ? Number(id) : null;
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [doc, setDoc] = useState<ProjectInput | null>(projectId ? null : EMPTY);
  const [days, setDays] = useState<string[]>(() => WEEKDAYS.map((d) => formatDay(EMPTY.windows ?? [], d)));
  const [holidays, setHolidays] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [preview, setPreview] = useState<{ report: Report; id: number } | null>(null);
  const [previewError, setPreviewError] = useState<unknown>(null);

  useEffect(() => {
    if (!projectId) return;
    void (async () => {
      try {
        const p = unwrap(await api.GET("/api/v1/projects/{id}", { params: { path: { id: projectId } } }));
        setDoc({
          name: p.name,
          status: p.status,
          time_zone: p.time_zone,
          daily_quota: p.daily_quota,
          max_attempts: p.max_attempts,
          priority: p.priority,
          exclusive: p.exclusive,
          allocation_order: p.allocation_order,
          on_final: p.on_final,
          sources: p.sources,
          windows: p.windows,
          holidays: p.holidays,
          learning: p.learning ?? null,
        });
        setDays(WEEKDAYS.map((d) => formatDay(p.windows, d)));
        setHolidays(p.holidays.join(", "));
      } catch (err) {
        setError(err);
      }
    })();
  }, [projectId]);

  const body: ProjectInput | null = doc && {
    ...doc,
    sources: (doc.sources ?? []).map(({ provider_id, geo_id, weight, prefix }) => ({ provider_id, geo_id, weight, prefix: prefix || null }) as Schemas["Source"]),
    windows: WEEKDAYS.flatMap((d, i) => parseDay(days[i] ?? "", d)) as Window[],
    holidays: parseHolidays(holidays),
  };
  const bodyKey = JSON.stringify(body);

  // The preview follows the form, a moment after the last change.
  useEffect(() => {
    if (!canWrite || !body || !body.name) return;
    const timer = setTimeout(async () => {
      try {
        const result = unwrap(await api.POST("/api/v1/allocation/preview", { body: { project_id: projectId, project: body } }));
        setPreview({ report: result.report, id: result.project_id });
        setPreviewError(null);
      } catch (err) {
        setPreviewError(err);
      }
    }, 400);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [bodyKey, projectId, canWrite]);

  if (!doc || !body) return <ErrorText error={error} />;
  const set = (patch: Partial<ProjectInput>) => setDoc({ ...doc, ...patch });
  const sources = doc.sources ?? [];

  async function save(e: FormEvent) {
    e.preventDefault();
    if (!body) return;
    try {
      if (projectId) unwrap(await api.PUT("/api/v1/projects/{id}", { params: { path: { id: projectId } }, body }));
      else unwrap(await api.POST("/api/v1/projects", { body }));
      await queryClient.invalidateQueries({ queryKey: ["projects"] });
      navigate("/projects");
    } catch (err) {
      setError(err);
    }
  }
  async function remove() {
    if (!projectId || !(await confirmAction({ title: t("delete"), body: t("confirmDelete"), confirm: t("delete"), cancel: t("cancel"), danger: true }))) return;
    try {
      unwrap(await api.DELETE("/api/v1/projects/{id}", { params: { path: { id: projectId }, query: { release: "unworked" } } }));
      await queryClient.invalidateQueries({ queryKey: ["projects"] });
      navigate("/projects/deleted");
    } catch (err) {
      setError(err);
    }
  }

  return (
    <form className="panel form" onSubmit={save} aria-label={t("project")}>
      <h2>{projectId ? doc.name : t("newProject")}</h2>
      <div className="grid">
        <label>
          {t("name")}
          <input name="name" value={doc.name} onChange={(e) => set({ name: e.target.value })} required />
        </label>
        <TimeZoneSelect label={t("timeZone")} value={doc.time_zone} onChange={(zone) => zone && set({ time_zone: zone })} required />
        <label>
          {t("dailyQuota")}
          <input name="daily_quota" type="number" min={0} value={doc.daily_quota} onChange={(e) => set({ daily_quota: Number(e.target.value) })} />
        </label>
        <label>
          {t("priority")}
          <input name="priority" type="number" value={doc.priority ?? 0} onChange={(e) => set({ priority: Number(e.target.value) })} />
        </label>
        <label>
          {t("maxAttempts")}
          <input name="max_attempts" type="number" min={1} value={doc.max_attempts ?? 5} onChange={(e) => set({ max_attempts: Number(e.target.value) })} />
        </label>
        <label>
          {t("order")}
          <select name="allocation_order" value={doc.allocation_order ?? "newest"} onChange={(e) => set({ allocation_order: e.target.value })}>
            <option value="newest">{t("newest")}</option>
            <option value="oldest">{t("oldest")}</option>
            <option value="random">{t("random")}</option>
          </select>
        </label>
        <label>
          {t("status")}
          <select name="status" value={doc.status ?? "active"} onChange={(e) => set({ status: e.target.value })}>
            <option value="active">{label("projectStatus", "active")}</option>
            <option value="paused">{label("projectStatus", "paused")}</option>
          </select>
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={doc.exclusive ?? false}
            onChange={(e) => set({ exclusive: e.target.checked, ...(e.target.checked ? { on_final: "keep" } : {}) })}
          />
          {t("exclusive")}
        </label>
        <label>
          {t("onFinal")}
          <select name="on_final" value={doc.on_final ?? "keep"} disabled={doc.exclusive ?? false} onChange={(e) => set({ on_final: e.target.value })}>
            <option value="keep">{t("onFinalKeep")}</option>
            <option value="release">{t("onFinalRelease")}</option>
          </select>
        </label>
      </div>
      <fieldset>
        <legend>{t("poolRules")}</legend>
        {sources.map((s, i) => (
          <div className="toolbar" key={i}>
            <ProviderSelect
              aria-label={t("provider")}
              placeholder={t("any")}
              value={s.provider_id == null ? null : String(s.provider_id)}
              onChange={(v) => set({ sources: sources.map((x, j) => (j === i ? { ...x, provider_id: v ? Number(v) : null } : x)) })}
            />
            <GeoSelect
              aria-label={t("geo")}
              placeholder={t("any")}
              value={s.geo_id == null ? null : String(s.geo_id)}
              onChange={(v) => set({ sources: sources.map((x, j) => (j === i ? { ...x, geo_id: v ? Number(v) : null } : x)) })}
            />
            <label>
              {t("block")}
              <input
                aria-label={t("block")}
                placeholder="7701"
                inputMode="numeric"
                size={8}
                value={s.prefix ?? ""}
                onChange={(e) => set({ sources: sources.map((x, j) => (j === i ? { ...x, prefix: e.target.value.replace(/\D/g, "") || null } : x)) })}
              />
            </label>
            <label>
              {t("weight")}
              <input
                aria-label={t("weight")}
                type="number"
                value={s.weight ?? 1}
                onChange={(e) => set({ sources: sources.map((x, j) => (j === i ? { ...x, weight: Number(e.target.value) } : x)) })}
              />
            </label>
            <button type="button" onClick={() => set({ sources: sources.filter((_, j) => j !== i) })}>
              ×
            </button>
          </div>
        ))}
        <button type="button" onClick={() => set({ sources: [...sources, { provider_id: null, geo_id: null, weight: 1 } as Schemas["Source"]] })}>
          {t("addRule")}
        </button>
        <label className="inline">
          <input
            type="checkbox"
            name="learned"
            checked={!!doc.learning}
            onChange={(e) => set({ learning: e.target.checked ? { floor: 0.1, half_life_days: 14, cells: [] } : null })}
          />{" "}
          {t("learnedWeights")}
        </label>
        <p className="muted">{t("learnedWeightsHelp")}</p>
        {doc.learning && (
          <div className="toolbar">
            <label>
              {t("explorationFloor")}
              <input
                aria-label={t("explorationFloor")}
                type="number"
                step="0.01"
                min={0}
                max={0.5}
                value={doc.learning.floor ?? 0.1}
                onChange={(e) => set({ learning: { ...doc.learning!, floor: Number(e.target.value) } })}
              />
            </label>
            <label>
              {t("halfLifeDays")}
              <input
                aria-label={t("halfLifeDays")}
                type="number"
                min={1}
                max={365}
                value={doc.learning.half_life_days ?? 14}
                onChange={(e) => set({ learning: { ...doc.learning!, half_life_days: Number(e.target.value) } })}
              />
            </label>
          </div>
        )}
        {doc.learning && <CellSettings learning={doc.learning} onChange={(learning) => set({ learning })} />}
      </fieldset>
      <fieldset>
        <legend>{t("schedule")}</legend>
        <p className="muted">{t("scheduleHint")}</p>
        <ScheduleGrid days={days} dayNames={WEEKDAY_KEYS.map((k) => t(k))} onChange={setDays} />
        <DatePickerInput
          type="multiple"
          mt="sm"
          label={t("holidays")}
          placeholder={t("noHolidays")}
          valueFormat="ll"
          clearable
          value={parseHolidays(holidays)}
          onChange={(dates) => setHolidays(dates.join(", "))}
        />
      </fieldset>
      <section aria-label={t("preview")} aria-live="polite">
        <h3>{t("preview")}</h3>
        <ErrorText error={previewError} />
        {preview && !previewError && <PreviewSummary run={preview.report.projects.find((p) => p.project_id === preview.id)} />}
      </section>
      <ErrorText error={error} />
      <div className="toolbar">
        {canWrite && (
          <button className="primary" type="submit">
            {t("save")}
          </button>
        )}
        <Link to="/projects">{canWrite ? t("cancel") : t("back")}</Link>
        {canWrite && projectId && (
          <button type="button" className="danger" onClick={remove}>
            {t("delete")}
          </button>
        )}
      </div>
    </form>
  );
}

function PreviewSummary({ run }: { run: ProjectRun | undefined }) {
  const { t, label } = useI18n();
  const f = useFormat();
  if (!run) return null;
  return (
    <div data-testid="preview">
      <p>
        {t("wouldAllocate")}: <strong>{f.number(run.allocated)}</strong> / {f.number(run.daily_quota)} ({f.day(run.day)}, {label("runState", run.state)}) · {t("eligible")}: {f.number(run.eligible)}
      </p>
      <p className="muted">
        {t("skipped")}: {skippedText(run, t, f.number)}
      </p>
      {run.learned && run.learned.length > 0 && <LearnedWeights run={run} />}
    </div>
  );
}

type Learning = Schemas["Learning"];
type CellSetting = Schemas["CellSetting"];

/** An administrator's pins (an exact share) and caps (a ceiling) on provider × geo cells. */
function CellSettings({ learning, onChange }: { learning: Learning; onChange: (l: Learning) => void }) {
  const { t } = useI18n();
  const cells = learning.cells ?? [];
  const update = (i: number, patch: Partial<CellSetting>) => onChange({ ...learning, cells: cells.map((c, j) => (j === i ? { ...c, ...patch } : c)) });
  return (
    <div aria-label={t("pinsAndCaps")} role="group">
      {cells.map((c, i) => {
        const mode = c.pin != null ? "pin" : "cap";
        const share = (c.pin ?? c.cap ?? 0) * 100;
        return (
          <div className="toolbar" key={i}>
            <ProviderSelect aria-label={t("provider")} value={String(c.provider_id)} onChange={(v) => v && update(i, { provider_id: Number(v) })} />
            <GeoSelect aria-label={t("geo")} placeholder={t("noGeo")} value={c.geo_id == null ? null : String(c.geo_id)} onChange={(v) => update(i, { geo_id: v ? Number(v) : null })} />
            <select aria-label={t("pinOrCap")} value={mode} onChange={(e) => update(i, e.target.value === "pin" ? { pin: share / 100, cap: null } : { cap: share / 100, pin: null })}>
              <option value="pin">{t("pinShare")}</option>
              <option value="cap">{t("capShare")}</option>
            </select>
            <label>
              %
              <input
                aria-label={t("share")}
                type="number"
                min={0}
                max={100}
                value={share}
                onChange={(e) => update(i, mode === "pin" ? { pin: Number(e.target.value) / 100 } : { cap: Number(e.target.value) / 100 })}
              />
            </label>
            <button type="button" onClick={() => onChange({ ...learning, cells: cells.filter((_, j) => j !== i) })}>
              ×
            </button>
          </div>
        );
      })}
      <button type="button" onClick={() => onChange({ ...learning, cells: [...cells, { provider_id: 0, geo_id: null, pin: null, cap: 0.5 }] })}>
        {t("addPinOrCap")}
      </button>
    </div>
  );
}

/** Why each provider × geo cell gets its share: the evidence and the posterior. */
function LearnedWeights({ run }: { run: ProjectRun }) {
  const { t, label } = useI18n();
  const f = useFormat();
  const { providers, geos } = useCatalog();
  const name = (list: { id: number; code: string }[], id: number | null | undefined) => (id == null ? "–" : (list.find((x) => x.id === id)?.code ?? String(id)));
  return (
    <div className="table-wrap" tabIndex={0}>
      <table aria-label={t("learnedWeights")} data-testid="learned-weights">
        <thead>
          <tr>
            <th>{t("provider")}</th>
            <th>{t("geo")}</th>
            <th className="num">{t("share")}</th>
            <th className="num">{t("allocated")}</th>
            <th className="num">{t("successes")}</th>
            <th className="num">{t("successRate")}</th>
            <th className="num">{t("probabilityBest")}</th>
            <th>{t("why")}</th>
          </tr>
        </thead>
        <tbody>
          {(run.learned ?? []).map((w) => (
            <tr key={`${w.provider_id}-${w.geo_id ?? 0}`}>
              <td>{name(providers, w.provider_id)}</td>
              <td>{name(geos, w.geo_id)}</td>
              <td className="num">{f.percent(w.share)}</td>
              <td className="num">{f.number(w.allocated)}</td>
              <td className="num">{f.number(w.success)}</td>
              <td className="num">
                {f.percent(w.mean)} ({f.percent(w.low)}–{f.percent(w.high)})
              </td>
              <td className="num">{f.percent(w.p_best)}</td>
              <td>{label("shareReason", w.reason)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function DeletedProjectsPage({ canWrite }: { canWrite: boolean }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const list = useQuery({
    queryKey: ["projects", "deleted"],
    queryFn: async () => unwrap(await api.GET("/api/v1/projects", { params: { query: { deleted: true } } })),
  });
  async function restore(id: number) {
    try {
      unwrap(await api.POST("/api/v1/projects/{id}/restore", { params: { path: { id } } }));
      await queryClient.invalidateQueries({ queryKey: ["projects"] });
    } catch (err) {
      setError(err);
    }
  }
  async function purge(id: number, name: string) {
    const typed = prompt(t("confirmPurge").replace("{name}", name));
    if (typed === null) return;
    try {
      const c = unwrap(await api.POST("/api/v1/projects/{id}/purge", { params: { path: { id } }, body: { confirm: typed } }));
      setMessage(`${t("released")}: ${c.released}, ${t("kept")}: ${c.kept}, ${t("eventsArchived")}: ${c.events_archived}`);
      await queryClient.invalidateQueries({ queryKey: ["projects"] });
    } catch (err) {
      setError(err);
    }
  }
  return (
    <>
      <h2>{t("deletedProjects")}</h2>
      {message && <p role="status">{message}</p>}
      <ErrorText error={list.error ?? error} />
      <div className="table-wrap" tabIndex={0}>
      <table aria-label={t("deletedProjects")}>
        <thead>
          <tr>
            <th>{t("name")}</th>
            <th>{t("deletedAt")}</th>
            <th className="num">{t("numbersHeld")}</th>
            <th className="num">{t("conversion")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.data?.map((p) => (
            <tr key={p.id}>
              <td>{p.name}</td>
              <td>{p.deleted_at?.slice(0, 16).replace("T", " ")}</td>
              <td className="num">{p.numbers}</td>
              <td className="num">{p.conversion != null ? `${(p.conversion * 100).toFixed(1)}%` : "–"}</td>
              <td>
                {canWrite && (
                  <>
                    <button onClick={() => restore(p.id)}>{t("restore")}</button>{" "}
                    <button className="danger" onClick={() => purge(p.id, p.name)}>
                      {t("purge")}
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
</div>
    </>
  );
}

function ExplainBox() {
  const { t } = useI18n();
  const reasonText = useReasonText();
  const [phone, setPhone] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<Schemas["Explanation"] | null>(null);
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      setResult(unwrap(await api.GET("/api/v1/numbers/{phone}/explain", { params: { path: { phone } } })));
      setError(null);
    } catch (err) {
      setError(err);
      setResult(null);
    }
  }
  return (
    <section className="panel" aria-label={t("explainNumber")}>
      <h3>{t("explainNumber")}</h3>
      <form className="toolbar" onSubmit={submit}>
        <input aria-label={t("phone")} value={phone} placeholder="+79161234567" onChange={(e) => setPhone(e.target.value)} />
        <button type="submit">{t("explain")}</button>
      </form>
      <ErrorText error={error} />
      {result && (
        <div data-testid="explanation">
          <p>
            <strong>{result.phone}</strong>:{" "}
            {result.number
              ? `${result.number.provider} · ${result.number.geo ?? "–"} · ${result.number.project ?? t("sharedPool")} · ${result.number.status_code} · ${t("attempts")} ${result.number.attempts}`
              : t("notImported")}
            {result.dnc && ` · DNC (${result.dnc.source})`}
          </p>
          {result.group && (
            <p data-testid="explained-group">
              {t("groupOf", { rule: result.group.rule, size: result.group.size })} {result.group.others.map((o) => o.phone).join(", ")}
            </p>
          )}
          <ul>
            {result.projects.map((p) => (
              <li key={p.project_id}>
                {p.name}: {reasonText(p)}
              </li>
            ))}
          </ul>
          <ul className="muted">
            {result.history.slice(0, 10).map((ev, i) => (
              <li key={i}>
                {ev.at.slice(0, 16).replace("T", " ")} {ev.kind}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
