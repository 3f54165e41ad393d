import { describe, expect, it } from "vitest";
import { missingTranslations, translate } from "./i18n";

describe("translations", () => {
  it("has a Russian string for every English one", () => {
    expect(missingTranslations()).toEqual([]);
  });

  it("translates and falls back to English", () => {
    expect(translate("ru", "signIn")).toBe("Войти");
    expect(translate("en", "signIn")).toBe("Sign in");
    expect(translate("ru", "appName")).toBe("Dialpool");
  });
});
