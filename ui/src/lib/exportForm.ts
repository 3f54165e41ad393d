// The export form's fields as the API's filter and options.
import type { Schemas } from "../api/client";

type Format = Schemas["ExportFormat"];

/** Empty fields are left out; days are UTC midnights; `tab` is the TAB character. */
export function exportBody(form: FormData): Schemas["StartExport"] {
  const text = (key: string) => {
    const value = String(form.get(key) ?? "").trim();
    return value === "" ? undefined : value;
  };
  const number = (key: string) => (text(key) === undefined ? undefined : Number(text(key)));
  const day = (key: string) => (text(key) === undefined ? undefined : `${text(key)}T00:00:00Z`);
  const format = (text("format") ?? "csv") as Format;
  return {
    filter: {
      status: number("status"),
      provider_id: number("provider_id"),
      geo_id: number("geo_id"),
      allocated_from: day("allocated_from"),
      allocated_to: day("allocated_to"),
      attempts_min: number("attempts_min"),
      attempts_max: number("attempts_max"),
      never_exported: form.get("never_exported") === "on",
      limit: number("limit"),
    },
    options: {
      format,
      csv: format === "csv" ? { delimiter: text("delimiter") === "tab" ? "\t" : (text("delimiter") ?? ","), encoding: (text("encoding") ?? "utf-8") as Schemas["Encoding"] } : undefined,
      vicidial_list_id: format === "vicidial" ? number("vicidial_list_id") : undefined,
      set_status: number("set_status"),
    },
  };
}
