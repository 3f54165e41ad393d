import { describe, expect, it } from "vitest";
import { conversionQuery, heatColor, hourGrid, percentText, sortRows, weekdayNames } from "./conversion";

const row = (dialed: number, rate: number | null) =>
  ({ keys: [String(dialed)], labels: [String(dialed)], allocated: 0, exported: 0, leased: 0, dialed, contacted: 0, success: 0, failure: 0, no_answer: 0, conversion_rate: rate }) as never;

describe("conversion page helpers", () => {
  it("reads the query from the address bar, grouped by project by default", () => {
    expect(conversionQuery(new URLSearchParams("project_id=3&from=2026-11-01"))).toEqual({ by: "project", from: "2026-11-01", to: undefined, project_id: 3 });
    expect(conversionQuery(new URLSearchParams("by=provider,geo")).by).toBe("provider,geo");
  });

  it("sorts either way and keeps rows without a rate last", () => {
    const rows = [row(1, 0.5), row(2, null), row(3, 0.1)];
    expect(sortRows(rows, "conversion_rate", true).map((r) => r.dialed)).toEqual([1, 3, 2]);
    expect(sortRows(rows, "conversion_rate", false).map((r) => r.dialed)).toEqual([3, 1, 2]);
    expect(sortRows(rows, "dialed", true).map((r) => r.dialed)).toEqual([3, 2, 1]);
  });

  it("formats rates and colours cells by their share of the best", () => {
    expect(percentText(0.3333)).toBe("33.3%");
    expect(percentText(null)).toBe("–");
    expect(heatColor(null, 1)).toBe("transparent");
    expect(heatColor(0.5, 0.5)).toBe("rgba(34, 160, 90, 0.80)");
  });

  it("lays the hour cells out Monday first, hour 0 first, and names weekdays in the locale", () => {
    const cell = (weekday: number, hour: number) => ({ weekday, hour, dialed: 1, contacted: 0, success: 0, conversion_rate: 0, contact_rate: 0 });
    const grid = hourGrid([cell(1, 14), cell(7, 0), cell(8, 3)]);
    expect(grid).toHaveLength(7);
    expect(grid[0][14]?.hour).toBe(14);
    expect(grid[6][0]?.weekday).toBe(7);
    expect(grid.flat().filter(Boolean)).toHaveLength(2);
    expect(weekdayNames("en")[0]).toBe("Mon");
    expect(weekdayNames("en")[6]).toBe("Sun");
  });
});
