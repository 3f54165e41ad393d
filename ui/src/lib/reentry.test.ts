import { describe, expect, it } from "vitest";
import { formatReentry, parseReentry } from "./reentry";

describe("re-entry rules", () => {
  it("read and write the line the CLI takes, both ways", () => {
    for (const line of ["skip", "refresh:30", "refresh:7:provider", "refresh_if_status:90:failure,invalid:project"]) {
      expect(formatReentry(parseReentry(line))).toBe(line);
    }
    expect(parseReentry("refresh_if_status:90:failure")).toEqual({ mode: "refresh_if_status", after_days: 90, categories: ["failure"], scope: "system" });
  });

  it("refuse what they cannot mean, saying what", () => {
    expect(() => parseReentry("refresh:x")).toThrow(/days/);
    expect(() => parseReentry("refresh:30:galaxy")).toThrow(/scope/);
    expect(() => parseReentry("sometimes")).toThrow(/refresh/);
  });
});
