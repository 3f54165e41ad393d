// The audit log: filters in the URL, newest first, CSV export of the same filter.
import { Anchor, Select, TextInput } from "@mantine/core";
import { DateInput } from "@mantine/dates";
import { useQuery } from "@tanstack/react-query";
import en from "../locales/en.json";
import { useSearchParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { DataTable, ErrorText } from "../components/ui";
import { Changes } from "../components/KeyValues";
import { useFormat } from "../lib/format";
import { useI18n } from "../lib/i18n";
import { readListState, withFilter } from "../lib/listState";

/** The actions and entities the catalogue names, for the filters' pickers. */
const ACTIONS = Object.keys(en).filter((k) => k.startsWith("audit.")).map((k) => k.slice("audit.".length));
const ENTITIES = Object.keys(en).filter((k) => k.startsWith("entity.")).map((k) => k.slice("entity.".length));

/** A date input gives YYYY-MM-DD; the API takes an instant. */
function toInstant(value: string | undefined) {
  return value ? new Date(`${value}T00:00:00`).toISOString() : undefined;
}

export function AuditPage() {
  const { t, label } = useI18n();
  const fmt = useFormat();
  const [params, setParams] = useSearchParams();
  const state = readListState(params);
  const f = state.filters;
  const query = {
    from: toInstant(f.from),
    to: toInstant(f.to),
    action: f.action,
    entity: f.entity,
    entity_id: f.entity_id,
  };
  const list = useQuery({
    queryKey: ["audit", params.toString()],
    queryFn: async () => unwrap(await api.GET("/api/v1/audit", { params: { query: { ...query, cursor: state.cursor, sort: state.sort } } })),
  });
  const exportQuery = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => !!e[1]));
  return (
    <>
      <h2>{t("audit")}</h2>
      <div className="toolbar">
        <DateInput label={t("from")} clearable valueFormat="ll" value={f.from ?? null} onChange={(v) => setParams(withFilter(params, "from", v ?? ""))} />
        <DateInput label={t("to")} clearable valueFormat="ll" value={f.to ?? null} onChange={(v) => setParams(withFilter(params, "to", v ?? ""))} />
        <Select
          label={t("action")}
          searchable
          clearable
          value={f.action ?? null}
          onChange={(v) => setParams(withFilter(params, "action", v ?? ""))}
          data={ACTIONS.map((a) => ({ value: a, label: label("audit", a) })).sort((x, y) => x.label.localeCompare(y.label))}
          nothingFoundMessage={t("nothingFound")}
        />
        <Select
          label={t("entity")}
          searchable
          clearable
          value={f.entity ?? null}
          onChange={(v) => setParams(withFilter(params, "entity", v ?? ""))}
          data={ENTITIES.map((e) => ({ value: e, label: label("entity", e) })).sort((x, y) => x.label.localeCompare(y.label))}
          nothingFoundMessage={t("nothingFound")}
        />
        <TextInput label="ID" defaultValue={f.entity_id ?? ""} onChange={(e) => setParams(withFilter(params, "entity_id", e.currentTarget.value))} w={120} />
        <Anchor href={`/api/v1/audit/export?${exportQuery.toString()}`} download mb={8}>
          {t("exportCsv")}
        </Anchor>
      </div>
      <ErrorText error={list.error} />
      <DataTable
        label={t("audit")}
        loading={list.isLoading}
        rows={list.data?.items}
        nextCursor={list.data?.next_cursor}
        rowKey={(e) => e.id}
        columns={[
          { key: "at", title: t("at"), sortable: true, render: (e) => fmt.dateTime(e.at) },
          { key: "actor", title: t("actor"), render: (e) => e.actor_email ?? e.actor_label },
          { key: "action", title: t("action"), render: (e) => <span title={e.action}>{label("audit", e.action)}</span> },
          { key: "entity", title: t("entity"), render: (e) => `${label("entity", e.entity)} ${e.entity_id ?? ""}` },
          {
            key: "details",
            title: t("details"),
            render: (e) => (
              <details>
                <summary>{e.request_id ?? "–"} · {e.address ?? "–"}</summary>
                <Changes before={e.before} after={e.after} />
              </details>
            ),
          },
        ]}
      />
    </>
  );
}
