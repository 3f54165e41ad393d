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

type HourCell = Schemas["HourCell"];

/** The heat map's 7 × 24 grid (Monday first, hour 0 first); hours without calls are null. */
export function hourGrid(cells: HourCell[]): (HourCell | null)[][] {
  const grid: (HourCell | null)[][] = Array.from({ length: 7 }, () => Array.from({ length: 24 }, () => null));
  for (const cell of cells) {
    if (cell.weekday >= 1 && cell.weekday <= 7 && cell.hour >= 0 && cell.hour <= 23) grid[cell.weekday - 1][cell.hour] = cell;
  }
  return grid;
}

/** Monday to Sunday, short, in the locale's language (2024-01-01 was a Monday). */
export function weekdayNames(locale: string): string[] {
  return Array.from({ length: 7 }, (_, i) => new Date(Date.UTC(2024, 0, 1 + i)).toLocaleDateString(locale, { weekday: "short", timeZone: "UTC" }));
}

/** Green with the cell's share of the best rate as its strength. */
export function heatColor(rate: number | null | undefined, top: number): string {
  if (rate == null) return "transparent";
  const strength = Math.min(1, rate / top);
  return `rgba(34, 160, 90, ${(0.12 + 0.68 * strength).toFixed(2)})`;
}
