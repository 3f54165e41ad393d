import { describe, expect, it } from "vitest";
// The server's own sources, read as text at test time (Vite's `?raw`): the catalogues must
// name what the server actually sends, not a copy of it.
import openapi from "../../../api/openapi.json";
import accessRs from "../../../engine/src/platform/access/mod.rs?raw";
import webhookRs from "../../../engine/src/platform/webhook/mod.rs?raw";
import errorRs from "../../../api/src/http/error.rs?raw";
import en from "../locales/en.json";
import ru from "../locales/ru.json";
import { codeLabel, missingTranslations, strayTranslations, translate } from "./i18n";

/** Enumerations the server's OpenAPI document declares, by schema name. */
function serverEnums(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, schema] of Object.entries<{ enum?: string[] }>(openapi.components.schemas as Record<string, { enum?: string[] }>)) if (schema.enum) out[name] = schema.enum;
  return out;
}

/** Codes the engine defines in Rust: `("code", "description")` pairs of a named table. */
function rustTable(source: string, constant: string): string[] {
  const table = source.slice(source.indexOf(`pub const ${constant}`), source.indexOf("];", source.indexOf(`pub const ${constant}`)));
  return [...table.matchAll(/\(\s*"([a-z_.]+)",/g)].map((m) => m[1]);
}

describe("translations", () => {
  it("has a Russian string for every English one, and no Russian string English lacks", () => {
    expect(missingTranslations()).toEqual([]);
    expect(strayTranslations()).toEqual([]);
  });

  it("keeps the placeholders of every message in both languages", () => {
    const names = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    const ruAll: Record<string, string> = ru;
    const differing = Object.entries(en as Record<string, string>).filter(([key, text]) => ruAll[key] && names(text).join() !== names(ruAll[key]).join());
    expect(differing).toEqual([]);
  });

  it("translates and falls back to English", () => {
    expect(translate("ru", "signIn")).toBe("Войти");
    expect(translate("en", "signIn")).toBe("Sign in");
    expect(translate("ru", "appName")).toBe("Dialpool");
    expect(translate("en", "touched", { count: "1,470", matched: "1,500" })).toBe("Done: 1,470 of 1,500 numbers changed");
  });

  it("has words for every code the server sends, in both languages", () => {
    const enums = serverEnums();
    const kinds: [string, string[]][] = [
      ["jobKind", enums.JobKind],
      ["jobState", enums.JobState],
      ["taskStatus", enums.TaskStatus],
      ["direction", enums.Direction],
      ["afterPull", enums.AfterPull],
      ["exportFormat", enums.ExportFormat],
      ["permission", rustTable(accessRs, "PERMISSIONS")],
      ["permissionHelp", rustTable(accessRs, "PERMISSIONS")],
      ["webhookEvent", rustTable(webhookRs, "EVENTS")],
      ["problem", ["invalid-input", "not-found", "conflict", "unavailable", "internal", "upstream", "unauthenticated", "bad-credentials", "forbidden", "password-change-required", "csrf", "bad-request", "throttled", "payload-too-large"]],
    ];
    const missing: string[] = [];
    for (const [kind, codes] of kinds) {
      expect(codes?.length, kind).toBeGreaterThan(0);
      for (const code of codes) {
        for (const locale of ["en", "ru"] as const) if (!codeLabel(locale, kind, code)) missing.push(`${locale} ${kind}.${code}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("names every problem code the server's one error mapping can answer with", () => {
    const codes = [...errorRs.matchAll(/StatusCode::[A-Z_]+, "([a-z-]+)",/g)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThan(10);
    expect(codes.filter((c) => !codeLabel("ru", "problem", c))).toEqual([]);
  });
});
