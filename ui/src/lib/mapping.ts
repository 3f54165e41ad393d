// The provider column mapping as the API stores it: `phone=3,geo=Region`.

export const MAPPING_FIELDS = ["phone", "phone_code", "geo", "name", "consent_at", "consent_source"] as const;
export type MappingField = (typeof MAPPING_FIELDS)[number];
export type MappingRow = { field: MappingField; column: string };

export function parseMapping(spec: string): MappingRow[] {
  const rows: MappingRow[] = [];
  for (const part of spec.split(",")) {
    const [field, ...rest] = part.split("=");
    const column = rest.join("=").trim();
    const name = field?.trim() as MappingField;
    if (MAPPING_FIELDS.includes(name) && column) rows.push({ field: name, column });
  }
  return rows;
}

/** Blank rows are dropped; a later row for the same field wins, as on the server. */
export function formatMapping(rows: MappingRow[]): string {
  const byField = new Map<MappingField, string>();
  for (const row of rows) {
    const column = row.column.trim().replace(/,/g, "");
    if (column) byField.set(row.field, column);
  }
  return MAPPING_FIELDS.filter((f) => byField.has(f))
    .map((f) => `${f}=${byField.get(f)}`)
    .join(",");
}
