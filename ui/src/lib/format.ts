// The one place numbers, dates and sizes become text, in the reader's locale: the UI
// language picks the language, and an English reader keeps their own country's date order.
import { useMemo } from "react";
import { useI18n, type Locale } from "./i18n";

/** The BCP 47 locale for formatting: Russian, or the browser's English (en-GB if none). */
export function intlLocale(locale: Locale): string {
  if (locale === "ru") return "ru-RU";
  const browser = typeof navigator !== "undefined" ? navigator.language : "";
  return browser.startsWith("en") ? browser : "en-GB";
}

export function formatBytes(bytes: number, locale = "en-GB"): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toLocaleString(locale, { maximumFractionDigits: unit === 0 ? 0 : 1 })} ${units[unit]}`;
}

/** Whole percent of done/total, 0 when the total is unknown, never above 100. */
export function percent(done: number, total: number): number {
  if (!total || total <= 0) return 0;
  return Math.min(100, Math.floor((done / total) * 100));
}

export type Format = ReturnType<typeof formatter>;

/** Every formatter for one locale; `–` stands for a missing value everywhere. */
export function formatter(locale: string) {
  const integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const rate = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "short" });
  const date = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone: "UTC" });
  const shortDay = new Intl.DateTimeFormat(locale, { day: "numeric", month: "short", timeZone: "UTC" });
  const missing = (v: unknown) => v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v));
  return {
    locale,
    number: (n: number | null | undefined) => (missing(n) ? "–" : integer.format(n as number)),
    decimal: (n: number | null | undefined) => (missing(n) ? "–" : decimal.format(n as number)),
    percent: (r: number | null | undefined) => (missing(r) ? "–" : rate.format(r as number)),
    /** An instant (ISO 8601 with offset) in the reader's zone. */
    dateTime: (iso: string | null | undefined) => (iso ? dateTime.format(new Date(iso)) : "–"),
    /** A calendar day (`YYYY-MM-DD`), never shifted by the reader's zone. */
    day: (ymd: string | null | undefined) => (ymd ? date.format(new Date(`${ymd.slice(0, 10)}T00:00:00Z`)) : "–"),
    shortDay: (ymd: string) => shortDay.format(new Date(`${ymd.slice(0, 10)}T00:00:00Z`)),
    bytes: (n: number) => formatBytes(n, locale),
  };
}

export function useFormat(): Format {
  const { locale } = useI18n();
  return useMemo(() => formatter(intlLocale(locale)), [locale]);
}

/** Kept for callers that format one instant outside React. */
export function formatDate(iso: string | null | undefined, locale: string): string {
  return formatter(locale === "ru" ? "ru-RU" : intlLocale("en")).dateTime(iso);
}
