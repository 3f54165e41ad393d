// Numbers: the filtered list over millions of rows (keyset paging, state in the URL),
// bulk actions on picked rows or on the whole filter, one number's detail; the DNC list;
// the disposition map.
import { useState, type FormEvent } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { api, ensureOk, postForm, unwrap, type Schemas } from "../api/client";
import { DataTable, ErrorText } from "../components/ui";
import { useReasonText } from "../components/Reasons";
import { KeyValues } from "../components/KeyValues";
import { GeoSelect } from "../components/pickers";
import { confirmAction, notifyDone, notifyFailed } from "../components/feedback";
import { Button } from "@mantine/core";
import { useCatalog, useProjects, useStatusLabel, useStatuses } from "../lib/catalog";
import { formatDate, useFormat } from "../lib/format";
import { useI18n } from "../lib/i18n";
import { readListState, withFilter } from "../lib/listState";
import { filterFromParams } from "../lib/numberFilter";

type BulkAction = Schemas["BulkAction"];

export function NumbersPage({ canWrite, canDnc }: { canWrite: boolean; canDnc: boolean }) {
  const { t, locale } = useI18n();
  const f = useFormat();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const state = readListState(params);
  const filter = filterFromParams(state.filters);
  const { providers, geos } = useCatalog();
  const statuses = useStatuses();
  const projects = useProjects();
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [action, setAction] = useState<string>("set_status");
  const [status, setStatus] = useState<string>("");
  const [result, setResult] = useState<Schemas["BulkResult"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const list = useQuery({
    queryKey: ["numbers", params.toString()],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/numbers", { params: { query: { ...filter, cursor: state.cursor, limit: 50 } } })),
  });
  const rows = list.data?.items ?? [];
  // The total runs beside the page: exact when cheap, else the planner's estimate.
  const count = useQuery({
    queryKey: ["numbers", "count", JSON.stringify(filter)],
    queryFn: async () => unwrap(await api.GET("/api/v1/numbers/count", { params: { query: filter } })),
  });
  const statusCode = useStatusLabel();
  const projectName = (id: number | null | undefined) => (id == null ? t("sharedPool") : (projects.find((p) => p.id === id)?.name ?? `#${id}`));

  function bulkAction(): BulkAction | null {
    if (action === "release") return { action: "release" };
    if (action === "add_to_dnc") return { action: "add_to_dnc", reason: null };
    return status ? { action: "set_status", status: Number(status) } : null;
  }

  async function run(selection: Schemas["Selection"]) {
    const chosen = bulkAction();
    setError(null);
    setResult(null);
    if (!chosen) {
      setError(new Error(t("pickStatus")));
      return;
    }
    try {
      if ("filter" in selection) {
        // The whole filter may be millions of numbers: count first, then say exactly
        // what will change before anything does.
        const dry = unwrap(await api.POST("/api/v1/numbers/bulk", { body: { ...chosen, selection, dry_run: true } }));
        const count = f.number(dry.matched);
        const body =
          chosen.action === "set_status"
            ? t("bulkWillSetStatus", { count, status: statusCode(chosen.status) })
            : chosen.action === "release"
              ? t("bulkWillRelease", { count })
              : t("bulkWillDnc", { count });
        const go = await confirmAction({ title: t("confirmBulkTitle"), body, confirm: t("bulkConfirm", { count }), cancel: t("cancel"), danger: chosen.action === "add_to_dnc" });
        if (!go) return;
      }
      const done = unwrap(await api.POST("/api/v1/numbers/bulk", { body: { ...chosen, selection } }));
      setResult(done);
      setPicked(new Set());
      await queryClient.invalidateQueries({ queryKey: ["numbers"] });
      const undoId = done.undo_id;
      notifyDone(
        t("touched", { count: f.number(done.touched), matched: f.number(done.matched) }),
        undoId != null && (
          <Button size="compact-xs" variant="light" ml="xs" onClick={() => undo(undoId)}>
            {t("undo")}
          </Button>
        ),
      );
    } catch (err) {
      setError(err);
      notifyFailed(err, locale);
    }
  }

  async function undo(id: number) {
    try {
      const undone = unwrap(await api.POST("/api/v1/numbers/bulk/{id}/undo", { params: { path: { id } } }));
      notifyDone(t("bulkUndone", { restored: f.number(undone.restored), kept: f.number(undone.kept) }));
      setResult(null);
      await queryClient.invalidateQueries({ queryKey: ["numbers"] });
    } catch (err) {
      notifyFailed(err, locale);
    }
  }

  const select = (key: string, label: string, options: { value: string | number; label: string }[]) => (
    <label key={key}>
      {label}
      <select value={state.filters[key] ?? ""} onChange={(e) => setParams(withFilter(params, key, e.target.value))}>
        <option value="">{t("any")}</option>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
  const input = (key: string, label: string, type: "number" | "date" | "text") => (
    <label key={key}>
      {label}
      <input type={type} min={type === "number" ? 0 : undefined} defaultValue={state.filters[key] ?? ""} onChange={(e) => setParams(withFilter(params, key, e.target.value))} />
    </label>
  );
  const allPicked = rows.length > 0 && rows.every((n) => picked.has(n.phone));

  return (
    <>
      <h2>{t("numbers")}</h2>
      <div className="toolbar" aria-label={t("filters")}>
        {select("project_id", t("project"), projects.map((p) => ({ value: p.id, label: p.name })))}
        {select("provider_id", t("provider"), providers.map((p) => ({ value: p.id, label: p.code })))}
        <GeoSelect label={t("geo")} placeholder={t("any")} value={state.filters.geo_id ?? null} onChange={(v) => setParams(withFilter(params, "geo_id", v ?? ""))} />
        {select("status", t("status"), statuses.map((s) => ({ value: s.id, label: statusCode(s.id) })))}
        {input("attempts_min", t("attemptsFrom"), "number")}
        {input("attempts_max", t("attemptsTo"), "number")}
        {input("created_from", t("storedFrom"), "date")}
        {input("created_to", t("storedTo"), "date")}
        {input("called_from", t("calledFrom"), "date")}
        {input("called_to", t("calledTo"), "date")}
        {input("prefix", t("block"), "text")}
      </div>
      {canWrite && (
        <section className="toolbar panel" aria-label={t("bulkActions")}>
          <label>
            {t("action")}
            <select value={action} onChange={(e) => setAction(e.target.value)}>
              <option value="set_status">{t("changeStatus")}</option>
              <option value="release">{t("releaseToPool")}</option>
              {canDnc && <option value="add_to_dnc">{t("addToDnc")}</option>}
            </select>
          </label>
          {action === "set_status" && (
            <label>
              {t("newStatus")}
              <select value={status} onChange={(e) => setStatus(e.target.value)}>
                <option value="">–</option>
                {statuses.map((s) => (
                  <option key={s.id} value={s.id}>
                    {statusCode(s.id)}
                  </option>
                ))}
              </select>
            </label>
          )}
          <button disabled={picked.size === 0} onClick={() => run({ phones: [...picked] })}>
            {t("applyToPicked", { count: picked.size })}
          </button>
          <button onClick={() => run({ filter })}>{t("applyToFilter")}</button>
          {result && (
            <span className="ok" role="status">
              {t("touched", { count: f.number(result.touched), matched: f.number(result.matched) })}
            </span>
          )}
        </section>
      )}
      <ErrorText error={error ?? list.error} />
      <DataTable
        label={t("numbers")}
        loading={list.isLoading}
        rows={rows}
        total={count.data}
        empty={
          <>
            {t("emptyNumbers")} <Link to="/imports">{t("goToImports")}</Link>
          </>
        }
        nextCursor={list.data?.next_cursor}
        rowKey={(n) => n.phone}
        columns={[
          ...(canWrite
            ? [
                {
                  key: "pick",
                  title: (
                    <input
                      type="checkbox"
                      aria-label={t("pickPage")}
                      checked={allPicked}
                      onChange={() => setPicked(allPicked ? new Set() : new Set(rows.map((n) => n.phone)))}
                    />
                  ),
                  render: (n: Schemas["Number"]) => (
                    <input
                      type="checkbox"
                      aria-label={`${t("pick")} ${n.phone}`}
                      checked={picked.has(n.phone)}
                      onChange={() =>
                        setPicked((set) => {
                          const next = new Set(set);
                          if (next.has(n.phone)) next.delete(n.phone);
                          else next.add(n.phone);
                          return next;
                        })
                      }
                    />
                  ),
                },
              ]
            : []),
          { key: "phone", title: t("phone"), render: (n) => <Link to={`/numbers/${encodeURIComponent(n.phone)}`}>{n.phone}</Link> },
          { key: "project", title: t("project"), render: (n) => projectName(n.project_id) },
          { key: "provider", title: t("provider"), render: (n) => providers.find((p) => p.id === n.provider_id)?.code ?? n.provider_id },
          { key: "geo", title: t("geo"), render: (n) => (n.geo_id == null ? "–" : (geos.find((g) => g.id === n.geo_id)?.code ?? n.geo_id)) },
          { key: "status", title: t("status"), render: (n) => <span data-testid={`status-${n.phone}`}>{statusCode(n.status)}</span> },
          { key: "attempts", title: t("attemptsTitle"), numeric: true, render: (n) => n.attempts },
          { key: "called", title: t("lastCalled"), render: (n) => formatDate(n.last_called_at, locale) },
          { key: "due", title: t("due"), render: (n) => (n.leased_until ? `${t("leasedUntil")} ${formatDate(n.leased_until, locale)}` : formatDate(n.next_eligible_at, locale)) },
        ]}
      />
    </>
  );
}

export function NumberDetailPage() {
  const statusName = useStatusLabel();
  const { t, label, locale } = useI18n();
  const reasonText = useReasonText();
  const { phone = "" } = useParams();
  const detail = useQuery({
    queryKey: ["number", phone],
    queryFn: async () => unwrap(await api.GET("/api/v1/numbers/{phone}", { params: { path: { phone } } })),
  });
  const explain = useQuery({
    queryKey: ["explain", phone],
    queryFn: async () => unwrap(await api.GET("/api/v1/numbers/{phone}/explain", { params: { path: { phone } } })),
  });
  const code = statusName;
  const n = detail.data;
  return (
    <>
      <h2>{phone}</h2>
      <ErrorText error={detail.error ?? explain.error} />
      {n && (
        <section className="panel" aria-label={t("details")}>
          <p data-testid="number-summary">
            {n.project ?? t("sharedPool")} · {n.provider} · {n.geo ?? "–"} · <strong>{statusName(n.status)}</strong> · {t("attempts")} {n.attempts}
            {n.dnc && " · DNC"}
            {n.leased_until && ` · ${t("leasedUntil")} ${formatDate(n.leased_until, locale)}`}
          </p>
          <KeyValues value={n.attributes as Record<string, unknown>} />
          <h3>{t("calls")}</h3>
          <div className="table-wrap" tabIndex={0}>
          <table aria-label={t("calls")}>
            <thead>
              <tr>
                <th>{t("at")}</th>
                <th>{t("disposition")}</th>
                <th>{t("status")}</th>
                <th>{t("agent")}</th>
                <th className="num">{t("durationS")}</th>
                <th>{t("notes")}</th>
              </tr>
            </thead>
            <tbody>
              {n.last_calls.length === 0 && <EmptyRow columns={6} />}
              {n.last_calls.map((c) => (
                <tr key={c.call_id}>
                  <td>{formatDate(c.started_at, locale)}</td>
                  <td>{c.disposition}</td>
                  <td>{statusName(c.status)}</td>
                  <td>{c.agent ?? "–"}</td>
                  <td className="num">{c.duration_s ?? "–"}</td>
                  <td>{c.notes ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
</div>
        </section>
      )}
      {explain.data && (
        <section className="panel" aria-label={t("eligibility")}>
          <h3>{t("eligibility")}</h3>
          {explain.data.projects.length === 0 && <p className="muted">{t("noRows")}</p>}
          <ul data-testid="eligibility">
            {explain.data.projects.map((p) => (
              <li key={p.project_id}>
                {p.name}: {reasonText(p)}
              </li>
            ))}
          </ul>
          {explain.data.dnc && (
            <p>
              DNC: {explain.data.dnc.source} · {formatDate(explain.data.dnc.added_at, locale)} · {explain.data.dnc.added_by ?? "–"} · {explain.data.dnc.reason ?? ""}
            </p>
          )}
          <h3>{t("history")}</h3>
          <div className="table-wrap" tabIndex={0}>
          <table aria-label={t("history")}>
            <thead>
              <tr>
                <th>{t("at")}</th>
                <th>{t("event")}</th>
                <th>{t("status")}</th>
                <th>{t("details")}</th>
              </tr>
            </thead>
            <tbody>
              {explain.data.history.length === 0 && <EmptyRow columns={4} />}
              {explain.data.history.map((ev, i) => (
                <tr key={i}>
                  <td>{formatDate(ev.at, locale)}</td>
                  <td>{label("event", ev.kind)}</td>
                  <td>
                    {code(ev.status_from)} → {code(ev.status_to)}
                  </td>
                  <td>
                    {ev.disposition && <strong>{ev.disposition}</strong>}
                    {ev.data && typeof ev.data === "object" ? <KeyValues value={ev.data as Record<string, unknown>} /> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
</div>
        </section>
      )}
    </>
  );
}

function EmptyRow({ columns }: { columns: number }) {
  const { t } = useI18n();
  return (
    <tr>
      <td colSpan={columns} className="muted">
        {t("noRows")}
      </td>
    </tr>
  );
}

export function DncPage({ canWrite }: { canWrite: boolean }) {
  const { t, locale } = useI18n();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const state = readListState(params);
  const [error, setError] = useState<unknown>(null);
  const [message, setMessage] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ["dnc", params.toString()],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/dnc", { params: { query: { phone: state.filters.phone, source: state.filters.source, cursor: state.cursor, sort: state.sort } } })),
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["dnc"] });
  async function add(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const target = e.currentTarget;
    setError(null);
    try {
      const added = unwrap(
        await api.POST("/api/v1/dnc", { body: { phone: String(form.get("phone")), reason: String(form.get("reason") || "") || null } }),
      );
      setMessage(added.added ? `${added.phone}: ${t("listed")}` : `${added.phone}: ${t("alreadyListed")}`);
      target.reset();
      await refresh();
    } catch (err) {
      setError(err);
    }
  }
  async function upload(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setError(null);
    try {
      const body = await postForm<Schemas["DncSummary"]>("/api/v1/dnc/files", form);
      setMessage(
        t("dncLoaded").replace("{added}", String(body.added)).replace("{listed}", String(body.already_listed)).replace("{invalid}", String(body.invalid)),
      );
      await refresh();
    } catch (err) {
      setError(err);
    }
  }
  async function remove(phone: string) {
    if (!(await confirmAction({ title: t("unlist"), body: t("confirmUnlist", { phone }), confirm: t("unlist"), cancel: t("cancel"), danger: true }))) return;
    try {
      ensureOk(await api.DELETE("/api/v1/dnc/{phone}", { params: { path: { phone } } }));
      await refresh();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <>
      <h2>{t("dncList")}</h2>
      <div className="toolbar">
        <label>
          {t("phoneStartsWith")}
          <input defaultValue={state.filters.phone ?? ""} onChange={(e) => setParams(withFilter(params, "phone", e.target.value))} />
        </label>
        <label>
          {t("source")}
          <input defaultValue={state.filters.source ?? ""} onChange={(e) => setParams(withFilter(params, "source", e.target.value))} />
        </label>
      </div>
      {canWrite && (
        <div className="grid">
          <form className="panel form" aria-label={t("addToDnc")} onSubmit={add}>
            <label>
              {t("phone")}
              <input name="phone" required placeholder="+79161234567" />
            </label>
            <label>
              {t("reason")}
              <input name="reason" />
            </label>
            <button type="submit">{t("addToDnc")}</button>
          </form>
          <form className="panel form" aria-label={t("loadDncFile")} onSubmit={upload}>
            <label>
              {t("reason")}
              <input name="reason" />
            </label>
            <label>
              {t("listName")}
              <input name="list" placeholder="US national registry" />
            </label>
            <label>
              {t("file")}
              <input name="file" type="file" required accept=".csv,.txt,.xlsx,.xls" />
            </label>
            <button type="submit">{t("loadDncFile")}</button>
          </form>
        </div>
      )}
      {message && (
        <p className="ok" role="status">
          {message}
        </p>
      )}
      <ErrorText error={error ?? list.error} />
      <DataTable
        label={t("dncList")}
        loading={list.isLoading}
        rows={list.data?.items}
        nextCursor={list.data?.next_cursor}
        rowKey={(d) => d.phone}
        columns={[
          { key: "phone", title: t("phone"), sortable: true, render: (d) => d.phone },
          { key: "added_at", title: t("addedAt"), sortable: true, render: (d) => formatDate(d.added_at, locale) },
          { key: "added_by", title: t("addedBy"), render: (d) => d.added_by ?? "–" },
          { key: "source", title: t("source"), render: (d) => d.source },
          { key: "reason", title: t("reason"), render: (d) => d.reason ?? "" },
          ...(canWrite
            ? [{ key: "remove", title: "", render: (d: Schemas["DncEntry"]) => <button onClick={() => remove(d.phone)}>{t("unlist")}</button> }]
            : []),
        ]}
      />
    </>
  );
}

export function DispositionsPage() {
  const statusName = useStatusLabel();
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const statuses = useStatuses();
  const [error, setError] = useState<unknown>(null);
  const list = useQuery({ queryKey: ["dispositions"], queryFn: async () => unwrap(await api.GET("/api/v1/dispositions")) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["dispositions"] });
  async function save(disposition: string, status_id: number, dnc: boolean) {
    setError(null);
    try {
      unwrap(await api.PUT("/api/v1/dispositions", { body: { disposition, status_id, dnc } }));
      await refresh();
    } catch (err) {
      setError(err);
    }
  }
  async function add(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const target = e.currentTarget;
    await save(String(form.get("disposition")), Number(form.get("status_id")), form.get("dnc") === "on");
    target.reset();
  }
  async function remove(disposition: string) {
    try {
      ensureOk(await api.DELETE("/api/v1/dispositions/{disposition}", { params: { path: { disposition } } }));
      await refresh();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <>
      <h2>{t("dispositions")}</h2>
      <p className="muted">{t("dispositionsHelp")}</p>
      <form className="toolbar panel" aria-label={t("addDisposition")} onSubmit={add}>
        <label>
          {t("disposition")}
          <input name="disposition" required maxLength={40} />
        </label>
        <label>
          {t("status")}
          <select name="status_id" required>
            {statuses.map((s) => (
              <option key={s.id} value={s.id}>
                {statusName(s.id)}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input name="dnc" type="checkbox" />
          DNC
        </label>
        <button type="submit">{t("save")}</button>
      </form>
      <ErrorText error={error ?? list.error} />
      <div className="table-wrap" tabIndex={0}>
      <table aria-label={t("dispositions")}>
        <thead>
          <tr>
            <th>{t("disposition")}</th>
            <th>{t("status")}</th>
            <th>DNC</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.data?.map((d) => (
            <tr key={d.disposition}>
              <td>{d.disposition}</td>
              <td>
                <select aria-label={`${t("status")} ${d.disposition}`} value={d.status_id} onChange={(e) => save(d.disposition, Number(e.target.value), d.dnc)}>
                  {statuses.map((s) => (
                    <option key={s.id} value={s.id}>
                      {statusName(s.id)}
                    </option>
                  ))}
                </select>
              </td>
              <td>
                <input type="checkbox" aria-label={`DNC ${d.disposition}`} checked={d.dnc} onChange={(e) => save(d.disposition, d.status_id, e.target.checked)} />
              </td>
              <td>
                <button onClick={() => remove(d.disposition)}>{t("delete")}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
</div>
    </>
  );
}
