// The conversion page's pure parts: its query from the address bar, sorting, formatting.
import type { Schemas } from "../api/client";

type Row = Schemas["ConversionRow"];
export type SortKey = "allocated" | "leased" | "dialed" | "contacted" | "success" | "conversion_rate" | "contact_rate" | "attempts_per_success" | "hours_to_success_median";

export interface ConversionQuery {
  by?: string;
  from?: string;
  to?: string;
  project_id?: number;
}

/** Grouped by project unless the address says otherwise; empty values are left out. */
export function conversionQuery(params: URLSearchParams): ConversionQuery {
  const text = (key: string) => params.get(key) || undefined;
  const project = text("project_id");
  return { by: text("by") ?? "project", from: text("from"), to: text("to"), project_id: project ? Number(project) : undefined };
}

/** Missing values (no calls, no successes) sort last either way. */
export function sortRows(rows: Row[], key: SortKey, descending: boolean): Row[] {
  return [...rows].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x == null && y == null) return 0;
    if (x == null) return 1;
    if (y == null) return -1;
    return descending ? y - x : x - y;
  });
}

export function percentText(rate: number | null | undefined): string {
  return rate == null ? "–" : `${(rate * 100).toFixed(1)}%`;
}

/** Green with the cell's share of the best rate as its strength. */
export function heatColor(rate: number | null | undefined, top: number): string {
  if (rate == null) return "transparent";
  const strength = Math.min(1, rate / top);
  return `rgba(34, 160, 90, ${(0.12 + 0.68 * strength).toFixed(2)})`;
}
