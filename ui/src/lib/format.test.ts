import { describe, expect, it } from "vitest";
import { formatBytes, formatter, percent } from "./format";

describe("formatting", () => {
  it("shows sizes in binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5 MiB");
    expect(formatBytes(1536, "ru-RU")).toBe("1,5 KiB");
  });

  it("never shows more than 100% or divides by an unknown total", () => {
    expect(percent(50, 200)).toBe(25);
    expect(percent(300, 200)).toBe(100);
    expect(percent(10, 0)).toBe(0);
  });

  it("groups thousands the same way for every figure of one locale", () => {
    const en = formatter("en-GB");
    const ru = formatter("ru-RU");
    expect(en.number(4500)).toBe("4,500");
    expect(en.number(1470)).toBe("1,470");
    // Russian groups with a (narrow) no-break space, for every number alike.
    expect(ru.number(4500).replace(/\s/gu, " ")).toBe("4 500");
    expect(ru.percent(0.667).replace(/\s/gu, " ")).toBe("66,7 %");
    expect(en.percent(0.667)).toBe("66.7%");
    expect(en.number(null)).toBe("–");
  });

  it("shows a calendar day as that day wherever the reader is", () => {
    expect(formatter("en-GB").day("2026-03-01")).toBe("1 Mar 2026");
    expect(formatter("en-US").day("2026-03-01")).toBe("Mar 1, 2026");
    expect(formatter("ru-RU").day("2026-03-01")).toMatch(/^1 мар\.? 2026/);
  });
});

describe("the calls-and-rate chart", () => {
  it("draws counts on a whole-number axis and leaves a day without calls without a rate", async () => {
    const { callsAndRateByDay } = await import("./charts");
    const option = callsAndRateByDay(
      [
        { day: "2026-12-01", dialed: 4500, success: 90, rate: 0.02 },
        { day: "2026-12-02", dialed: 0, success: 0, rate: null },
      ],
      formatter("ru-RU"),
      { dialed: "Звонков", success: "Успех", rate: "Конверсия" },
    );
    expect(option.series.map((s) => s.type)).toEqual(["bar", "bar", "line"]);
    expect(option.series[2].data).toEqual([0.02, null]);
    expect(option.yAxis[0].minInterval).toBe(1);
    expect(option.yAxis[0].axisLabel.formatter(4500).replace(/\s/gu, " ")).toBe("4 500");
    expect(option.xAxis.data[0]).toMatch(/^1 дек/);
  });
});
