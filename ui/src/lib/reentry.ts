// A provider's re-entry rule (look-back window) as the one line the CLI takes:
// `skip`, `refresh:30`, `refresh_if_status:90:failure,invalid:provider`.
import type { Schemas } from "../api/client";

export type ReentryRule = Schemas["ReentryRule"];

export function formatReentry(rule: ReentryRule | null | undefined): string {
  if (!rule || rule.mode === "skip") return "skip";
  const scope = rule.scope && rule.scope !== "system" ? `:${rule.scope}` : "";
  if (rule.mode === "refresh") return `refresh:${rule.after_days ?? 0}${scope}`;
  return `refresh_if_status:${rule.after_days ?? 0}:${(rule.categories ?? []).join(",")}${scope}`;
}

/** The rule a line names; `null` for skip. Throws a message naming what is wrong. */
export function parseReentry(text: string): ReentryRule | null {
  const parts = text.trim().split(":");
  const mode = parts[0] || "skip";
  if (mode === "skip" && parts.length === 1) return null;
  const days = Number(parts[1]);
  if (!Number.isInteger(days) || days < 0) throw new Error(`'${text}': give the days, e.g. refresh:30`);
  const scopeOf = (value: string | undefined): ReentryRule["scope"] => {
    if (value === undefined || value === "system" || value === "provider" || value === "project") return value ?? "system";
    throw new Error(`scope '${value}' is not system, provider or project`);
  };
  if (mode === "refresh" && parts.length <= 3) return { mode, after_days: days, scope: scopeOf(parts[2]) };
  if (mode === "refresh_if_status" && (parts.length === 3 || parts.length === 4)) {
    return { mode, after_days: days, categories: parts[2].split(",").filter(Boolean), scope: scopeOf(parts[3]) };
  }
  throw new Error(`'${text}' is not skip, refresh:DAYS[:SCOPE] or refresh_if_status:DAYS:CATEGORIES[:SCOPE]`);
}
