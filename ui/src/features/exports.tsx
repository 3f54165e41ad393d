// Exports: start a batch for a project (filters, format, optional status move), watch it
// run, and the history with downloads while the server keeps the files.
import { useState, type FormEvent } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/ui";
import { CreatePanel } from "../components/CreatePanel";
import { DateInput } from "@mantine/dates";
import { GeoSelect, ProviderSelect } from "../components/pickers";
import { useDisclosure } from "@mantine/hooks";
import { useProjects, useStatusLabel, useStatuses } from "../lib/catalog";
import { formatDate, percent, useFormat } from "../lib/format";
import { exportBody } from "../lib/exportForm";
import { useI18n } from "../lib/i18n";

type ExportRecord = Schemas["ExportRecord"];
type Format = Schemas["ExportFormat"];

export function ExportsPage() {
  const { t, locale } = useI18n();
  const [creating, { open: openCreate, close: closeCreate }] = useDisclosure(false);
  const queryClient = useQueryClient();
  const projects = useProjects();
  const statuses = useStatuses();
  const statusName = useStatusLabel();
  const [format, setFormat] = useState<Format>("csv");
  const [provider, setProvider] = useState<string | null>(null);
  const [geo, setGeo] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const history = useQuery({
    queryKey: ["exports"],
    queryFn: async () => unwrap(await api.GET("/api/v1/exports", { params: { query: { limit: 50 } } })),
    // Running exports record their progress about once a second.
    refetchInterval: (query) => (query.state.data?.some((x) => x.status === "running") ? 1000 : false),
  });

  async function start(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setError(null);
    const form = new FormData(e.currentTarget);
    try {
      unwrap(
        await api.POST("/api/v1/projects/{id}/exports", {
          params: { path: { id: Number(form.get("project")) } },
          body: exportBody(form),
        }),
      );
      await queryClient.invalidateQueries({ queryKey: ["exports"] });
      closeCreate();
    } catch (err) {
      setError(err);
    }
  }

  const select = (name: string, label: string, options: { value: number; label: string }[], empty: string) => (
    <label>
      {label}
      <select name={name} defaultValue="">
        <option value="">{empty}</option>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <>
      <h2>{t("exports")}</h2>
      <CreatePanel label={t("newExport")} opened={creating} onOpen={openCreate} onClose={closeCreate}>
      <form className="form" aria-label={t("newExport")} onSubmit={start}>
        <label>
          {t("project")}
          <select name="project" required defaultValue="">
            <option value="" disabled>
              —
            </option>
            {projects.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("format")}
          <select name="format" value={format} onChange={(e) => setFormat(e.target.value as Format)}>
            <option value="csv">CSV</option>
            <option value="xlsx">XLSX (Excel)</option>
            <option value="vicidial">VICIdial</option>
            <option value="parquet">Parquet</option>
          </select>
        </label>
        {select("status", t("status"), statuses.map((s) => ({ value: s.id, label: statusName(s.id) })), t("any"))}
        <ProviderSelect name="provider_id" label={t("provider")} placeholder={t("any")} value={provider} onChange={setProvider} />
        <GeoSelect name="geo_id" label={t("geo")} placeholder={t("any")} value={geo} onChange={setGeo} />
        <DateInput name="allocated_from" label={t("allocatedFrom")} valueFormat="ll" clearable />
        <DateInput name="allocated_to" label={t("allocatedBefore")} valueFormat="ll" clearable />
        <label>
          {t("attemptsFrom")}
          <input name="attempts_min" type="number" min={0} />
        </label>
        <label>
          {t("attemptsTo")}
          <input name="attempts_max" type="number" min={0} />
        </label>
        <label>
          {t("rowLimit")}
          <input name="limit" type="number" min={1} />
        </label>
        <label className="check">
          <input name="never_exported" type="checkbox" />
          {t("neverExported")}
        </label>
        {select("set_status", t("moveExportedTo"), statuses.map((s) => ({ value: s.id, label: statusName(s.id) })), t("keepStatus"))}
        {format === "csv" && (
          <>
            <label>
              {t("delimiter")}
              <select name="delimiter" defaultValue=",">
                <option value=",">,</option>
                <option value=";">;</option>
                <option value="|">|</option>
                <option value="tab">TAB</option>
              </select>
            </label>
            <label>
              {t("encoding")}
              <select name="encoding" defaultValue="utf-8">
                <option value="utf-8">UTF-8</option>
                <option value="windows-1251">Windows-1251</option>
              </select>
            </label>
          </>
        )}
        {format === "vicidial" && (
          <label>
            {t("vicidialList")}
            <input name="vicidial_list_id" type="number" min={1} />
          </label>
        )}
        <button className="primary" type="submit">
          {t("startExport")}
        </button>
      </form>
      </CreatePanel>
      <ErrorText error={error ?? history.error} />
      <h3>{t("history")}</h3>
      <div className="table-wrap" tabIndex={0}>
      <table aria-label={t("exportHistory")}>
        <thead>
          <tr>
            <th className="num">#</th>
            <th>{t("project")}</th>
            <th>{t("format")}</th>
            <th>{t("status")}</th>
            <th className="num">{t("rowsTitle")}</th>
            <th className="num">{t("size")}</th>
            <th>{t("by")}</th>
            <th>{t("started")}</th>
            <th>{t("keptUntil")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {history.data?.length === 0 && (
            <tr>
              <td colSpan={10} className="muted">
                {t("noRows")}
              </td>
            </tr>
          )}
          {history.data?.map((x) => (
            <ExportRow key={x.id} export={x} locale={locale} />
          ))}
        </tbody>
      </table>
</div>
    </>
  );
}

function ExportRow({ export: x, locale }: { export: ExportRecord; locale: string }) {
  const { t, label } = useI18n();
  const f = useFormat();
  const state =
    x.status === "running"
      ? `${t("exportRunning")} ${x.rows_total ? `${percent(x.rows, x.rows_total)}%` : ""}`
      : x.status === "succeeded"
        ? t("exportSucceeded")
        : t("exportFailed");
  return (
    <tr>
      <td className="num">{x.id}</td>
      <td>{x.project}</td>
      <td>{label("exportFormat", x.format)}</td>
      <td>
        {state}
        {x.error && <div className="error">{x.error}</div>}
        {x.status === "succeeded" && x.rows === 0 && (
          <div className="error" data-testid="export-empty">
            {t("exportEmpty")}
          </div>
        )}
      </td>
      <td className="num">
        {f.number(x.rows)}
        {x.status === "running" && x.rows_total != null && ` / ${f.number(x.rows_total)}`}
      </td>
      <td className="num">{x.status === "succeeded" ? f.bytes(x.bytes) : ""}</td>
      <td>{x.created_by_name || "cli"}</td>
      <td>{formatDate(x.started_at, locale)}</td>
      <td>{x.expires_at ? formatDate(x.expires_at, locale) : ""}</td>
      <td>
        {x.downloadable ? (
          <a href={`/api/v1/exports/${x.id}/file`} download>
            {t("download")}
          </a>
        ) : (
          x.status === "succeeded" && x.expires_at && <span className="muted">{t("expired")}</span>
        )}
      </td>
    </tr>
  );
}
