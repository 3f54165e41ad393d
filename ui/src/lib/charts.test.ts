import { describe, expect, it } from "vitest";
import { successRateByMonth } from "./charts";

const f = { percent: (v: number | null | undefined) => (v == null ? "–" : `${(v * 100).toFixed(1)}%`) } as never;

describe("provider success by month", () => {
  it("draws a line per provider and the tenant's average, with gaps for months without numbers", () => {
    const option = successRateByMonth(
      [
        { provider_id: 1, month: "2026-10", allocated: 100, success: 5 },
        { provider_id: 1, month: "2026-11", allocated: 100, success: 10 },
        { provider_id: 2, month: "2026-11", allocated: 300, success: 6 },
      ],
      (id) => `p${id}`,
      f,
      "average",
    );
    expect(option.xAxis.data).toEqual(["2026-10", "2026-11"]);
    expect(option.series.map((s) => s.name)).toEqual(["p1", "p2", "average"]);
    expect(option.series[0].data).toEqual([0.05, 0.1]);
    expect(option.series[1].data).toEqual([null, 0.02]);
    // The average weighs by numbers: 16 successes of 400 in November.
    expect(option.series[2].data).toEqual([0.05, 0.04]);
  });
});
