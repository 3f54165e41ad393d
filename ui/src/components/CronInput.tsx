// A cron schedule in words ("Every 15 minutes", "Каждые 15 минут") with common choices a
// click away; the expression itself stays editable for anything else. Words come from
// cronstrue, which knows both our languages and the six-field (seconds) form croner takes.
import { ActionIcon, Menu, TextInput, type TextInputProps } from "@mantine/core";
import { IconClockEdit } from "@tabler/icons-react";
import cronstrue from "cronstrue";
import "cronstrue/locales/ru";
import { useI18n, type Locale } from "../lib/i18n";

/** The expression in words, or null when it does not parse. */
export function cronWords(expression: string, locale: Locale): string | null {
  try {
    return cronstrue.toString(expression, { locale, use24HourTimeFormat: true, throwExceptionOnParseError: true, verbose: false });
  } catch {
    return null;
  }
}

export const CRON_PRESETS = ["*/5 * * * *", "*/15 * * * *", "0 * * * *", "0 3 * * *", "0 9 * * 1-5", "0 9 * * 1"];

/** Shows a schedule in words, with the expression as its tooltip. */
export function CronText({ expression }: { expression: string | null | undefined }) {
  const { locale } = useI18n();
  if (!expression) return <>–</>;
  return <span title={expression}>{cronWords(expression, locale) ?? expression}</span>;
}

/** A controlled or uncontrolled cron field: the words under it, presets in its menu. */
export function CronInput({ value, onPick, ...props }: TextInputProps & { value?: string; onPick: (expression: string) => void }) {
  const { t, locale } = useI18n();
  const current = String(value ?? props.defaultValue ?? "");
  const words = current ? cronWords(current, locale) : null;
  return (
    <TextInput
      {...props}
      value={value}
      description={current ? (words ?? t("cronInvalid")) : t("cronHint")}
      rightSection={
        <Menu position="bottom-end" withinPortal>
          <Menu.Target>
            <ActionIcon variant="subtle" aria-label={t("cronPresets")}>
              <IconClockEdit size={16} />
            </ActionIcon>
          </Menu.Target>
          <Menu.Dropdown>
            {CRON_PRESETS.map((preset) => (
              <Menu.Item key={preset} onClick={() => onPick(preset)}>
                {cronWords(preset, locale)}
              </Menu.Item>
            ))}
          </Menu.Dropdown>
        </Menu>
      }
    />
  );
}
