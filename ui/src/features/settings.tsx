// Providers (with the mapping editor), geos and number statuses.
import { useState, type FormEvent } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { DataTable, ErrorText } from "../components/ui";
import { useI18n } from "../lib/i18n";
import { CreatePanel } from "../components/CreatePanel";
import { useDisclosure } from "@mantine/hooks";
import { useStatusLabel } from "../lib/catalog";
import { confirmAction, notifyDone, notifyFailed } from "../components/feedback";
import { TimeZoneSelect } from "../components/pickers";
import { readListState, withFilter } from "../lib/listState";
import { MAPPING_FIELDS, formatMapping, parseMapping, type MappingRow } from "../lib/mapping";
import { queryKeys } from "../lib/queryKeys";
import { formatReentry, parseReentry } from "../lib/reentry";

type Provider = Schemas["Provider"];

export function ProvidersPage() {
  const { t } = useI18n();
  const [params, setParams] = useSearchParams();
  const state = readListState(params);
  const [editing, setEditing] = useState<Provider | "new" | null>(null);
  const list = useQuery({
    queryKey: queryKeys.providersPage(params.toString()),
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/providers", { params: { query: { cursor: state.cursor, sort: state.sort, q: state.filters.q } } })),
  });
  return (
    <>
      <h2>{t("providers")}</h2>
      <div className="toolbar">
        <label>
          {t("search")}
          <input defaultValue={state.filters.q ?? ""} onChange={(e) => setParams(withFilter(params, "q", e.target.value))} />
        </label>
        <button className="primary" onClick={() => setEditing("new")}>
          {t("create")}
        </button>
      </div>
      {editing && <ProviderForm provider={editing === "new" ? null : editing} onDone={() => setEditing(null)} />}
      <ErrorText error={list.error} />
      <DataTable
        label={t("providers")}
        loading={list.isLoading}
        rows={list.data?.items}
        nextCursor={list.data?.next_cursor}
        rowKey={(p) => p.id}
        columns={[
          { key: "code", title: t("code"), sortable: true, render: (p) => p.code },
          { key: "name", title: t("name"), sortable: true, render: (p) => p.name },
          { key: "region", title: t("defaultRegion"), render: (p) => p.default_region ?? "–" },
          { key: "mapping", title: t("mapping"), render: (p) => <code>{p.column_mapping || "–"}</code> },
          { key: "reentry", title: t("reentryRule"), render: (p) => <code>{formatReentry(p.reentry)}</code> },
          { key: "edit", title: "", render: (p) => <button onClick={() => setEditing(p)}>{t("edit")}</button> },
        ]}
      />
    </>
  );
}

function ProviderForm({ provider, onDone }: { provider: Provider | null; onDone: () => void }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [rows, setRows] = useState<MappingRow[]>(() => parseMapping(provider?.column_mapping ?? ""));
  const [error, setError] = useState<unknown>(null);
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const body = {
      code: provider ? provider.code : String(form.get("code")),
      name: String(form.get("name")),
      default_region: String(form.get("region") || "") || null,
      column_mapping: formatMapping(rows),
      reentry: null as ReturnType<typeof parseReentry>,
    };
    try {
      body.reentry = parseReentry(String(form.get("reentry") ?? "skip"));
      if (provider) unwrap(await api.PUT("/api/v1/providers/{id}", { params: { path: { id: provider.id } }, body }));
      else unwrap(await api.POST("/api/v1/providers", { body }));
      await queryClient.invalidateQueries({ queryKey: queryKeys.providersAny });
      await queryClient.invalidateQueries({ queryKey: queryKeys.allProviders });
      onDone();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <form className="panel form" onSubmit={submit} aria-label="provider">
      <div className="grid">
        <label>
          {t("code")}
          <input name="code" defaultValue={provider?.code} disabled={!!provider} required />
        </label>
        <label>
          {t("name")}
          <input name="name" defaultValue={provider?.name} required />
        </label>
        <label>
          {t("defaultRegion")}
          <input name="region" defaultValue={provider?.default_region ?? ""} placeholder="RU" maxLength={2} />
        </label>
        <label>
          {t("reentryRule")}
          <input name="reentry" defaultValue={formatReentry(provider?.reentry)} placeholder="refresh:30" aria-describedby="reentry-help" />
          <small id="reentry-help" className="muted">
            {t("reentryHelp")}
          </small>
        </label>
      </div>
      <fieldset>
        <legend>{t("mapping")}</legend>
        <p className="muted">{t("mappingHint")}</p>
        {rows.map((row, i) => (
          <div className="toolbar" key={i}>
            <select
              aria-label="field"
              value={row.field}
              onChange={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, field: e.target.value as MappingRow["field"] } : r)))}
            >
              {MAPPING_FIELDS.map((f) => (
                <option key={f}>{f}</option>
              ))}
            </select>
            <input aria-label="column" value={row.column} onChange={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, column: e.target.value } : r)))} />
            <button type="button" onClick={() => setRows(rows.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
        ))}
        <button type="button" onClick={() => setRows([...rows, { field: "phone", column: "" }])}>
          {t("addRow")}
        </button>
        <p className="muted">
          <code>{formatMapping(rows) || "–"}</code>
        </p>
      </fieldset>
      <div className="toolbar">
        <button className="primary" type="submit">
          {t("save")}
        </button>
        <button type="button" onClick={onDone}>
          {t("cancel")}
        </button>
      </div>
      <ErrorText error={error} />
    </form>
  );
}

export function GeosPage() {
  const { t } = useI18n();
  const [creating, { open: openCreate, close: closeCreate }] = useDisclosure(false);
  const [params, setParams] = useSearchParams();
  const state = readListState(params);
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const list = useQuery({
    queryKey: ["geos", params.toString()],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/geos", {
          params: { query: { cursor: state.cursor, sort: state.sort, q: state.filters.q, country: state.filters.country } },
        }),
      ),
  });
  const [zone, setZone] = useState<string | null>(null);
  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    try {
      unwrap(
        await api.POST("/api/v1/geos", {
          body: {
            country: String(form.get("country")),
            region: String(form.get("region") || "") || null,
            name: String(form.get("name")),
            time_zone: String(form.get("time_zone")),
          },
        }),
      );
      setError(null);
      (e.target as HTMLFormElement).reset();
      setZone(null);
      await queryClient.invalidateQueries({ queryKey: ["geos"] });
      await queryClient.invalidateQueries({ queryKey: queryKeys.allGeos });
      closeCreate();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <>
      <h2>{t("geos")}</h2>
      <CreatePanel label={t("newGeo")} opened={creating} onOpen={openCreate} onClose={closeCreate}>
      <form className="toolbar" onSubmit={create} aria-label={t("newGeo")}>
        <label>
          {t("country")}
          <input name="country" placeholder="RU" maxLength={2} required />
        </label>
        <label>
          {t("region")}
          <input name="region" placeholder="MOW" />
        </label>
        <label>
          {t("name")}
          <input name="name" required />
        </label>
        <TimeZoneSelect name="time_zone" label={t("timeZone")} value={zone} onChange={setZone} required />
        <button className="primary" type="submit">
          {t("create")}
        </button>
        <ErrorText error={error} />
      </form>
      </CreatePanel>
      <div className="toolbar">
        <label>
          {t("search")}
          <input defaultValue={state.filters.q ?? ""} onChange={(e) => setParams(withFilter(params, "q", e.target.value))} />
        </label>
        <label>
          {t("country")}
          <input defaultValue={state.filters.country ?? ""} maxLength={2} onChange={(e) => setParams(withFilter(params, "country", e.target.value))} />
        </label>
      </div>
      <ErrorText error={list.error} />
      <DataTable
        label={t("geos")}
        loading={list.isLoading}
        rows={list.data?.items}
        nextCursor={list.data?.next_cursor}
        rowKey={(g) => g.id}
        columns={[
          { key: "code", title: t("code"), sortable: true, render: (g) => g.code },
          { key: "name", title: t("name"), sortable: true, render: (g) => g.name },
          { key: "tz", title: t("timeZone"), render: (g) => g.time_zone },
        ]}
      />
    </>
  );
}

export function StatusesPage() {
  const { t, label } = useI18n();
  const [creating, { open: openCreate, close: closeCreate }] = useDisclosure(false);
  const statusName = useStatusLabel();
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const list = useQuery({ queryKey: ["statuses"], queryFn: async () => unwrap(await api.GET("/api/v1/statuses")) });
  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const number = (name: string) => (form.get(name) ? Number(form.get(name)) : null);
    try {
      unwrap(
        await api.POST("/api/v1/statuses", {
          body: {
            code: String(form.get("code")),
            name: String(form.get("name")),
            category: String(form.get("category")),
            cooldown_s: number("cooldown_s"),
            max_attempts: number("max_attempts"),
          },
        }),
      );
      setError(null);
      await queryClient.invalidateQueries({ queryKey: ["statuses"] });
      closeCreate();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <>
      <h2>{t("statuses")}</h2>
      <CreatePanel label={t("newStatus")} opened={creating} onOpen={openCreate} onClose={closeCreate}>
      <form className="toolbar" onSubmit={create} aria-label={t("newStatus")}>
        <label>
          {t("code")}
          <input name="code" required pattern="[a-z][a-z0-9_]*" />
        </label>
        <label>
          {t("name")}
          <input name="name" required />
        </label>
        <label>
          {t("category")}
          <select name="category">
            {["fresh", "in_work", "retry", "callback", "success", "failure", "invalid", "dnc"].map((c) => (
              <option key={c} value={c}>
                {label("statusCategory", c)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("cooldown")}
          <input name="cooldown_s" type="number" min={0} />
        </label>
        <label>
          {t("maxAttempts")}
          <input name="max_attempts" type="number" min={1} />
        </label>
        <button className="primary" type="submit">
          {t("create")}
        </button>
        <ErrorText error={error} />
      </form>
      </CreatePanel>
      <ErrorText error={list.error} />
      <div className="table-wrap" tabIndex={0}>
      <table aria-label={t("statuses")}>
        <thead>
          <tr>
            <th>#</th>
            <th>{t("code")}</th>
            <th>{t("name")}</th>
            <th>{t("category")}</th>
            <th className="num">{t("cooldown")}</th>
            <th className="num">{t("maxAttempts")}</th>
          </tr>
        </thead>
        <tbody>
          {list.data?.map((s) => (
            <tr key={s.id}>
              <td>{s.id}</td>
              <td>
                <code>{s.code}</code>
              </td>
              <td>{statusName(s.id)}</td>
              <td>{label("statusCategory", s.category)}</td>
              <td className="num">{s.cooldown_s ?? "–"}</td>
              <td className="num">{s.max_attempts ?? "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
</div>
    </>
  );
}

/** Households and related numbers: rules that group numbers by shared attributes. */
export function GroupsPage({ canWrite }: { canWrite: boolean }) {
  const { t, locale } = useI18n();
  const [creating, { open: openCreate, close: closeCreate }] = useDisclosure(false);
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const list = useQuery({ queryKey: ["groups"], queryFn: async () => unwrap(await api.GET("/api/v1/groups")) });
  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const attributes = String(form.get("attributes") ?? "")
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean);
    try {
      const done = unwrap(
        await api.POST("/api/v1/groups", {
          body: { name: String(form.get("name")), attributes, keep_together: form.get("keep_together") === "on", park_on_success: form.get("park_on_success") === "on" },
        }),
      );
      setError(null);
      notifyDone(t("groupRuleAdded", { regrouped: done.regrouped }));
      await queryClient.invalidateQueries({ queryKey: ["groups"] });
      closeCreate();
    } catch (err) {
      setError(err);
    }
  }
  async function remove(id: number, name: string) {
    if (!(await confirmAction({ title: t("removeGroupRule"), body: t("confirmRemoveGroupRule", { name }), confirm: t("removeGroupRule"), cancel: t("cancel"), danger: true }))) return;
    try {
      const done = unwrap(await api.DELETE("/api/v1/groups/{id}", { params: { path: { id } } }));
      notifyDone(t("groupRuleRemoved", { regrouped: done.regrouped }));
      await queryClient.invalidateQueries({ queryKey: ["groups"] });
    } catch (err) {
      notifyFailed(err, locale);
    }
  }
  return (
    <>
      <h2>{t("numberGroups")}</h2>
      <p className="muted">{t("numberGroupsHelp")}</p>
      {canWrite && (
        <CreatePanel label={t("newGroupRule")} opened={creating} onOpen={openCreate} onClose={closeCreate}>
          <form className="toolbar" onSubmit={create} aria-label={t("newGroupRule")}>
            <label>
              {t("name")}
              <input name="name" required placeholder="household" />
            </label>
            <label>
              {t("groupAttributes")}
              <input name="attributes" required placeholder="address" />
            </label>
            <label className="inline">
              <input type="checkbox" name="keep_together" defaultChecked /> {t("keepTogether")}
            </label>
            <label className="inline">
              <input type="checkbox" name="park_on_success" defaultChecked /> {t("parkOnSuccess")}
            </label>
            <button className="primary" type="submit">
              {t("create")}
            </button>
            <ErrorText error={error} />
          </form>
        </CreatePanel>
      )}
      <ErrorText error={list.error} />
      <DataTable
        label={t("numberGroups")}
        rows={list.data}
        rowKey={(r) => r.id}
        empty={t("noGroupRules")}
        columns={[
          { key: "name", title: t("name"), render: (r) => r.name },
          { key: "attributes", title: t("groupAttributes"), render: (r) => r.attributes.join(" + ") },
          { key: "keep", title: t("keepTogether"), render: (r) => (r.keep_together ? t("yes") : t("no")) },
          { key: "park", title: t("parkOnSuccess"), render: (r) => (r.park_on_success ? t("yes") : t("no")) },
          ...(canWrite
            ? [
                {
                  key: "remove",
                  title: "",
                  render: (r: Schemas["GroupRule"]) => (
                    <button type="button" className="danger" onClick={() => remove(r.id, r.name)}>
                      {t("removeGroupRule")}
                    </button>
                  ),
                },
              ]
            : []),
        ]}
      />
    </>
  );
}
