import { describe, expect, it } from "vitest";
import { exportBody } from "./exportForm";

function form(fields: Record<string, string>): FormData {
  const data = new FormData();
  for (const [key, value] of Object.entries(fields)) data.set(key, value);
  return data;
}

describe("exportBody", () => {
  it("leaves empty fields out and reads days as UTC midnights", () => {
    const body = exportBody(form({ format: "csv", status: "", limit: "500", allocated_from: "2026-11-01", delimiter: "tab", encoding: "windows-1251" }));
    expect(body.filter).toEqual({
      status: undefined,
      provider_id: undefined,
      geo_id: undefined,
      allocated_from: "2026-11-01T00:00:00Z",
      allocated_to: undefined,
      attempts_min: undefined,
      attempts_max: undefined,
      never_exported: false,
      limit: 500,
    });
    expect(body.options?.csv).toEqual({ delimiter: "\t", encoding: "windows-1251" });
  });

  it("sends CSV options only for CSV and the list id only for VICIdial", () => {
    const body = exportBody(form({ format: "vicidial", vicidial_list_id: "1001", never_exported: "on", set_status: "2", delimiter: ";" }));
    expect(body.options).toEqual({ format: "vicidial", csv: undefined, vicidial_list_id: 1001, set_status: 2 });
    expect(body.filter?.never_exported).toBe(true);
    expect(exportBody(form({ format: "xlsx", vicidial_list_id: "7" })).options?.vicidial_list_id).toBeUndefined();
  });
});
