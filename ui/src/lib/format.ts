export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Whole percent of done/total, 0 when the total is unknown, never above 100. */
export function percent(done: number, total: number): number {
  if (!total || total <= 0) return 0;
  return Math.min(100, Math.floor((done / total) * 100));
}

export function formatDate(iso: string | null | undefined, locale: string): string {
  if (!iso) return "–";
  return new Date(iso).toLocaleString(locale === "ru" ? "ru-RU" : "en-GB");
}
