import { describe, expect, it } from "vitest";
import { dayHours, formatDay, hoursToText, parseDay, parseHolidays } from "./schedule";

describe("schedule grid", () => {
  it("round-trips a day with two windows in start order", () => {
    const windows = [
      { weekday: 1, start: "14:00", end: "18:00" },
      { weekday: 1, start: "09:00", end: "13:00" },
      { weekday: 2, start: "10:00", end: "12:00" },
    ];
    expect(formatDay(windows, 1)).toBe("09:00-13:00, 14:00-18:00");
    expect(parseDay(formatDay(windows, 1), 1)).toEqual([
      { weekday: 1, start: "09:00", end: "13:00" },
      { weekday: 1, start: "14:00", end: "18:00" },
    ]);
  });

  it("keeps what it cannot read for the server to name", () => {
    expect(parseDay("9-", 3)).toEqual([{ weekday: 3, start: "9", end: "" }]);
    expect(parseDay("  ", 3)).toEqual([]);
  });

  it("reads holidays separated by commas or spaces", () => {
    expect(parseHolidays("2026-12-31, 2027-01-01 2027-01-07")).toEqual(["2026-12-31", "2027-01-01", "2027-01-07"]);
  });
});

describe("the painted weekday grid", () => {
  it("reads a day's windows as hours and writes hours back as windows", () => {
    const hours = dayHours("09:00-13:00, 14:30-18:00");
    expect(hours.map((on, h) => (on ? h : -1)).filter((h) => h >= 0)).toEqual([9, 10, 11, 12, 14, 15, 16, 17]);
    expect(hoursToText(hours)).toBe("09:00-13:00, 14:00-18:00");
    expect(hoursToText(dayHours("00:00-24:00"))).toBe("00:00-24:00");
    // Nothing painted is a day off, not a default schedule.
    expect(hoursToText(Array.from({ length: 24 }, () => false))).toBe("");
    // A part the person is still typing paints nothing rather than failing.
    expect(dayHours("09:0").some(Boolean)).toBe(false);
  });
});
