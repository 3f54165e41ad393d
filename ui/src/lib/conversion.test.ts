import { describe, expect, it } from "vitest";
import { conversionQuery, heatColor, percentText, sortRows } from "./conversion";

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
});
