// Searchable pickers for long lists: IANA time zones (from the browser's own list),
// geos and providers. A typed filter beats scrolling 251 options.
import { Select, type SelectProps } from "@mantine/core";
import { useMemo } from "react";
import { useCatalog } from "../lib/catalog";
import { useI18n } from "../lib/i18n";

/** Every IANA zone the browser knows, plus UTC (which the list leaves out). */
export function timeZones(): string[] {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

type PickerProps = Omit<SelectProps, "data" | "onChange" | "value"> & { value: string | null | undefined; onChange: (value: string | null) => void };

export function TimeZoneSelect({ value, onChange, ...props }: PickerProps) {
  const { t } = useI18n();
  const data = useMemo(() => {
    const zones = timeZones();
    // A zone stored before the browser learnt of it (or renamed) stays choosable.
    return value && !zones.includes(value) ? [value, ...zones] : zones;
  }, [value]);
  return <Select searchable data={data} value={value ?? null} onChange={onChange} nothingFoundMessage={t("nothingFound")} limit={400} {...props} />;
}

/** Geos by id, shown as "Name (CC-REG)". */
export function GeoSelect({ value, onChange, ...props }: PickerProps) {
  const { t } = useI18n();
  const { geos } = useCatalog();
  const data = geos.map((g) => ({ value: String(g.id), label: `${g.name} (${g.code})` }));
  return <Select searchable clearable data={data} value={value ?? null} onChange={onChange} nothingFoundMessage={t("nothingFound")} {...props} />;
}

/** Providers by id, shown as "code — name". */
export function ProviderSelect({ value, onChange, ...props }: PickerProps) {
  const { t } = useI18n();
  const { providers } = useCatalog();
  const data = providers.map((p) => ({ value: String(p.id), label: `${p.code} — ${p.name}` }));
  return <Select searchable clearable data={data} value={value ?? null} onChange={onChange} nothingFoundMessage={t("nothingFound")} {...props} />;
}
