// The shared table for the keyset-paged lists: TanStack Table lays out columns and rows
// (headless, so it takes our styles), the address bar holds sort and cursor, and the
// total comes from the server (`/numbers/count`: exact when cheap, else the planner's
// estimate, shown as "about").
export { ErrorText } from "./feedback";
import { useMemo, type ReactNode } from "react";
import { useSearchParams } from "react-router-dom";
import { Button, Group, Text } from "@mantine/core";
import { FlexRender, createColumnHelper, tableFeatures, useTable, type RowData } from "@tanstack/react-table";
import { useI18n } from "../lib/i18n";
import { useFormat } from "../lib/format";
import { sortIndicator, withCursor, withSort } from "../lib/listState";

export type Column<T> = { key: string; title: ReactNode; sortable?: boolean; numeric?: boolean; render: (row: T) => ReactNode };

/** A list's size: exact, or the planner's estimate. */
export type Total = { count: number; exact: boolean };

const features = tableFeatures({});

export function DataTable<T extends RowData>({
  columns,
  rows,
  rowKey,
  nextCursor,
  loading,
  label,
  total,
  empty,
}: {
  columns: Column<T>[];
  rows: T[] | undefined;
  rowKey: (row: T) => string | number;
  nextCursor?: string | null;
  loading?: boolean;
  label: string;
  total?: Total | null;
  /** What to do when the list is empty, in place of "nothing here". */
  empty?: ReactNode;
}) {
  const { t } = useI18n();
  const f = useFormat();
  const [params, setParams] = useSearchParams();
  const sort = params.get("sort") ?? undefined;
  // A bare number is shown with the locale's grouping, the same on every page.
  const cell = (value: ReactNode) => (typeof value === "number" ? f.number(value) : value);
  const helper = useMemo(() => createColumnHelper<typeof features, T>(), []);
  const defs = useMemo(
    () =>
      columns.map((c) =>
        helper.display({
          id: c.key,
          header: () =>
            c.sortable ? (
              <button onClick={() => setParams(withSort(params, c.key))}>
                {c.title}
                {sortIndicator(sort, c.key)}
              </button>
            ) : (
              c.title
            ),
          cell: (context) => cell(c.render(context.row.original)),
          meta: { numeric: c.numeric },
        }),
      ),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [columns, helper, params, sort, f],
  );
  const table = useTable({ features, columns: defs, data: rows ?? [], getRowId: (row) => String(rowKey(row)) });
  const numeric = (id: string) => columns.find((c) => c.key === id)?.numeric;
  return (
    <>
      <div className="table-wrap" tabIndex={0}>
        <table aria-label={label}>
          <thead>
            {table.getHeaderGroups().map((group) => (
              <tr key={group.id}>
                {group.headers.map((header) => (
                  <th key={header.id} className={numeric(header.column.id) ? "num" : undefined}>
                    <FlexRender header={header} />
                  </th>
                ))}
              </tr>
            ))}
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
                  {empty ?? t("noRows")}
                </td>
              </tr>
            )}
            {table.getRowModel().rows.map((row) => (
              <tr key={row.id}>
                {row.getAllCells().map((c) => (
                  <td key={c.id} className={numeric(c.column.id) ? "num" : undefined}>
                    <FlexRender cell={c} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Group className="pager" gap="sm" justify="space-between" wrap="wrap">
        <Group gap="xs">
          <Button size="xs" variant="default" disabled={!params.get("cursor")} onClick={() => setParams(withCursor(params, null))}>
            {t("first")}
          </Button>
          <Button size="xs" variant="default" disabled={!nextCursor} onClick={() => setParams(withCursor(params, nextCursor))}>
            {t("next")}
          </Button>
        </Group>
        {total && (
          <Text size="sm" c="dimmed" data-testid="table-total">
            {t(total.exact ? "totalExact" : "totalAbout", { count: f.number(total.count) })}
          </Text>
        )}
      </Group>
    </>
  );
}
