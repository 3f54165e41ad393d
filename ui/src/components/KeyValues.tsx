// Stored JSON (a number's attributes, an audit entry's before and after, a webhook's
// payload) shown as labelled values rather than raw JSON: keys in words, nested objects
// as nested lists, and for a change only what changed.
import { Table, Text } from "@mantine/core";
import type { ReactNode } from "react";
import { codeLabel, useI18n, type Locale } from "../lib/i18n";

/** A key in words: the catalogue's field label, else the key with its underscores as spaces. */
export function fieldLabel(key: string, locale: Locale): string {
  const known = codeLabel(locale, "field", key);
  if (known) return known;
  const words = key.replace(/[_.]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function Value({ value }: { value: unknown }): ReactNode {
  const { t, locale } = useI18n();
  if (value === null || value === undefined || value === "") return <Text span c="dimmed">–</Text>;
  if (typeof value === "boolean") return t(value ? "yes" : "no");
  if (typeof value === "number") return value.toLocaleString(locale === "ru" ? "ru-RU" : "en-GB");
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== "object" || v === null)) return value.map((v) => String(v)).join(", ");
    return (
      <ol style={{ margin: 0, paddingLeft: "1.2rem" }}>
        {value.map((v, i) => (
          <li key={i}>
            <Value value={v} />
          </li>
        ))}
      </ol>
    );
  }
  if (typeof value === "object") return <KeyValues value={value as Record<string, unknown>} />;
  return String(value);
}

export function KeyValues({ value }: { value: Record<string, unknown> | null | undefined }) {
  const { locale } = useI18n();
  const entries = Object.entries(value ?? {});
  if (entries.length === 0) return <Text span c="dimmed">–</Text>;
  return (
    <dl className="kv">
      {entries.map(([key, v]) => (
        <div key={key}>
          <dt>{fieldLabel(key, locale)}</dt>
          <dd>
            <Value value={v} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** Before and after side by side, only the fields that differ. */
export function Changes({ before, after }: { before: unknown; after: unknown }) {
  const { t, locale } = useI18n();
  const b = (before && typeof before === "object" ? before : {}) as Record<string, unknown>;
  const a = (after && typeof after === "object" ? after : {}) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]));
  if (keys.length === 0) return <Text span c="dimmed">{t("noChanges")}</Text>;
  return (
    <Table withRowBorders={false} verticalSpacing={2} fz="sm">
      <Table.Thead>
        <Table.Tr>
          <Table.Th />
          <Table.Th>{t("before")}</Table.Th>
          <Table.Th>{t("after")}</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {keys.map((k) => (
          <Table.Tr key={k}>
            <Table.Th>{fieldLabel(k, locale)}</Table.Th>
            <Table.Td>
              <Value value={b[k]} />
            </Table.Td>
            <Table.Td>
              <Value value={a[k]} />
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
