// The weekday grid of a project's schedule: one text per weekday, "09:00-13:00, 14:00-18:00",
// to and from the API's list of windows. The server validates overlaps and times; this
// only reads what a person typed.

export type Window = { weekday: number; start: string; end: string };

export const WEEKDAYS = [1, 2, 3, 4, 5, 6, 7] as const;

/** The windows of one weekday as text, in start order. */
export function formatDay(windows: Window[], weekday: number): string {
  return windows
    .filter((w) => w.weekday === weekday)
    .sort((a, b) => a.start.localeCompare(b.start))
    .map((w) => `${w.start}-${w.end}`)
    .join(", ");
}

/** Reads one weekday's text; a part that is not `HH:MM-HH:MM` is kept as typed so the
 * server can say exactly what is wrong with it. */
export function parseDay(text: string, weekday: number): Window[] {
  return text
    .split(/[,;]/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const [start = "", end = ""] = part.split(/\s*[-–]\s*/);
      return { weekday, start: start.trim(), end: end.trim() };
    });
}

/** Holidays as one comma-separated list of dates. */
export function parseHolidays(text: string): string[] {
  return text
    .split(/[,\s]+/)
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
}

function minutes(hhmm: string): number | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm.trim());
  if (!m) return null;
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Which whole hours of a day's text are (at least partly) callable, for the painted grid. */
export function dayHours(text: string): boolean[] {
  const hours = Array.from({ length: 24 }, () => false);
  for (const w of parseDay(text, 1)) {
    const start = minutes(w.start);
    const end = minutes(w.end);
    if (start === null || end === null || end <= start) continue;
    for (let h = 0; h < 24; h++) if (start < (h + 1) * 60 && end > h * 60) hours[h] = true;
  }
  return hours;
}

/** Painted hours back to text: each run of hours one window, "24:00" closing the day. */
export function hoursToText(hours: boolean[]): string {
  const windows: string[] = [];
  const hh = (h: number) => `${String(h).padStart(2, "0")}:00`;
  for (let h = 0; h < 24; h++) {
    if (!hours[h] || (h > 0 && hours[h - 1])) continue;
    let end = h;
    while (end < 24 && hours[end]) end++;
    windows.push(`${hh(h)}-${hh(end)}`);
  }
  return windows.join(", ");
}
