// English and Russian. The catalogues are JSON (src/locales), one per language, with the
// same keys: plain messages, and the server's codes under `<kind>.<code>` (statuses, job
// kinds, audit actions, permissions, problem codes...) so a code is never shown raw. The
// choice is remembered in localStorage; a missing Russian string falls back to English.
import { createContext, useContext } from "react";
import en from "../locales/en.json";
import ruJson from "../locales/ru.json";

export type MessageKey = keyof typeof en;
const ru: Partial<Record<string, string>> = ruJson;
const english: Record<string, string> = en;

export const LOCALES = ["en", "ru"] as const;
export type Locale = (typeof LOCALES)[number];

/** Values to put in a message's `{name}` placeholders. */
export type Vars = Record<string, string | number>;

function fill(text: string, vars?: Vars): string {
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

export function translate(locale: Locale, key: MessageKey, vars?: Vars): string {
  return fill((locale === "ru" ? ru[key] : undefined) ?? en[key], vars);
}

/** The label of a server code (`kind` is `status`, `jobKind`, `permission`...), or null. */
export function codeLabel(locale: Locale, kind: string, code: string): string | null {
  const key = `${kind}.${code}`;
  return (locale === "ru" ? ru[key] : undefined) ?? english[key] ?? null;
}

/** A server code as a sentence with its values filled in, or null when no catalogue knows it. */
export function codeText(locale: Locale, kind: string, code: string, vars: Vars): string | null {
  const text = codeLabel(locale, kind, code);
  return text === null ? null : fill(text, vars);
}

/** Keys English has and Russian lacks (names of the product and protocols aside). */
export function missingTranslations(): string[] {
  return Object.keys(en).filter((k) => !UNTRANSLATED.has(k) && ru[k] === undefined);
}

/** Keys Russian has and English does not: a stale or misspelt Russian entry. */
export function strayTranslations(): string[] {
  return Object.keys(ru).filter((k) => !(k in en));
}

/** Words the same in every language. */
const UNTRANSLATED = new Set(["appName"]);

export function storedLocale(): Locale {
  const saved = typeof localStorage !== "undefined" ? localStorage.getItem("dialpool.locale") : null;
  if (saved === "en" || saved === "ru") return saved;
  return typeof navigator !== "undefined" && navigator.language.startsWith("ru") ? "ru" : "en";
}

export type I18n = {
  locale: Locale;
  setLocale: (l: Locale) => void;
  t: (key: MessageKey, vars?: Vars) => string;
  /** A server code in words; the code itself only when no catalogue knows it. */
  label: (kind: string, code: string | null | undefined) => string;
};
export const I18nContext = createContext<I18n>({
  locale: "en",
  setLocale: () => {},
  t: (k, vars) => translate("en", k, vars),
  label: (kind, code) => (code ? (codeLabel("en", kind, code) ?? code) : "–"),
});
export const useI18n = () => useContext(I18nContext);
