// Why a project would not take a number, in the reader's language: each reason's code
// with its values formatted here (days, instants, counts, statuses); the server's English
// sentence when the code is new to this UI.
import { codeText, useI18n } from "../lib/i18n";
import { useFormat } from "../lib/format";
import { useStatusLabel } from "../lib/catalog";
import { weekdayNames } from "../lib/conversion";
import type { Schemas } from "../api/client";

export function useReasonText() {
  const { t, locale } = useI18n();
  const f = useFormat();
  const statusName = useStatusLabel();
  const days = weekdayNames(f.locale);
  return (verdict: Schemas["Eligibility"]) => {
    if (verdict.eligible) return t("eligibleNow");
    return verdict.why
      .map((reason, i) => {
        const v = (reason.values ?? {}) as Record<string, unknown>;
        const vars: Record<string, string | number> = {};
        for (const [key, value] of Object.entries(v)) {
          if (value === null || value === undefined) vars[key] = "–";
          else if (key === "until") vars[key] = f.dateTime(String(value));
          else if (key === "day") vars[key] = f.day(String(value));
          else if (key === "weekday") vars[key] = days[Number(value) - 1] ?? String(value);
          else if (key === "status") vars[key] = statusName(String(value));
          else if (typeof value === "number") vars[key] = f.number(value);
          else vars[key] = String(value);
        }
        return codeText(locale, "reason", reason.code, vars) ?? verdict.reasons[i];
      })
      .join("; ");
  };
}
