// The audit log: filters in the URL, newest first, CSV export of the same filter.
import { useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { DataTable, ErrorText } from "../components/ui";
import { formatDate } from "../lib/format";
import { useI18n } from "../lib/i18n";
import { readListState, withFilter } from "../lib/listState";

const FILTERS = ["from", "to", "action", "entity", "entity_id"] as const;

/** A date input gives YYYY-MM-DD; the API takes an instant. */
function toInstant(value: string | undefined) {
  return value ? new Date(`${value}T00:00:00`).toISOString() : undefined;
}

export function AuditPage() {
  const { t, locale } = useI18n();
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
        {FILTERS.map((key) => (
          <label key={key}>
            {key === "from" ? t("from") : key === "to" ? t("to") : key === "action" ? t("action") : key === "entity" ? t("entity") : "ID"}
            <input
              type={key === "from" || key === "to" ? "date" : "text"}
              defaultValue={f[key] ?? ""}
              onChange={(e) => setParams(withFilter(params, key, e.target.value))}
            />
          </label>
        ))}
        <a href={`/api/v1/audit/export?${exportQuery.toString()}`} download>
          {t("exportCsv")}
        </a>
      </div>
      <ErrorText error={list.error} />
      <DataTable
        label={t("audit")}
        loading={list.isLoading}
        rows={list.data?.items}
        nextCursor={list.data?.next_cursor}
        rowKey={(e) => e.id}
        columns={[
          { key: "at", title: t("at"), sortable: true, render: (e) => formatDate(e.at, locale) },
          { key: "actor", title: t("actor"), render: (e) => e.actor_email ?? e.actor_label },
          { key: "action", title: t("action"), render: (e) => e.action },
          { key: "entity", title: t("entity"), render: (e) => `${e.entity} ${e.entity_id ?? ""}` },
          {
            key: "details",
            title: t("details"),
            render: (e) => (
              <details>
                <summary>{e.request_id ?? "–"} · {e.address ?? "–"}</summary>
                <pre>{JSON.stringify({ before: e.before, after: e.after }, null, 1)}</pre>
              </details>
            ),
          },
        ]}
      />
    </>
  );
}
