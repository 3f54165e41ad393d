// Small shared pieces: a keyset-paged table driven by the URL; errors and toasts live in feedback.tsx.
export { ErrorText } from "./feedback";
import type { ReactNode } from "react";
import { useSearchParams } from "react-router-dom";
import { useI18n } from "../lib/i18n";
import { useFormat } from "../lib/format";
import { sortIndicator, withCursor, withSort } from "../lib/listState";

export type Column<T> = { key: string; title: ReactNode; sortable?: boolean; numeric?: boolean; render: (row: T) => ReactNode };

export function DataTable<T>({
  columns,
  rows,
  rowKey,
  nextCursor,
  loading,
  label,
}: {
  columns: Column<T>[];
  rows: T[] | undefined;
  rowKey: (row: T) => string | number;
  nextCursor?: string | null;
  loading?: boolean;
  label: string;
}) {
  const { t } = useI18n();
  const f = useFormat();
  // A bare number is shown with the locale's grouping, the same on every page.
  const cell = (value: ReactNode) => (typeof value === "number" ? f.number(value) : value);
  const [params, setParams] = useSearchParams();
  const sort = params.get("sort") ?? undefined;
  return (
    <>
      <div className="table-wrap" tabIndex={0}>
      <table aria-label={label}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.key} className={c.numeric ? "num" : undefined}>
                {c.sortable ? (
                  <button onClick={() => setParams(withSort(params, c.key))}>
                    {c.title}
                    {sortIndicator(sort, c.key)}
                  </button>
                ) : (
                  c.title
                )}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {loading && (
            <tr>
              <td colSpan={columns.length}>{t("loading")}</td>
            </tr>
          )}
          {!loading && rows?.length === 0 && (
            <tr>
              <td colSpan={columns.length} className="muted">
                {t("noRows")}
              </td>
            </tr>
          )}
          {rows?.map((row) => (
            <tr key={rowKey(row)}>
              {columns.map((c) => (
                <td key={c.key} className={c.numeric ? "num" : undefined}>
                  {cell(c.render(row))}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
</div>
      <div className="pager">
        <button disabled={!params.get("cursor")} onClick={() => setParams(withCursor(params, null))}>
          {t("first")}
        </button>
        <button disabled={!nextCursor} onClick={() => setParams(withCursor(params, nextCursor))}>
          {t("next")}
        </button>
      </div>
    </>
  );
}
