import { describe, expect, it } from "vitest";
import { filterFromParams } from "./numberFilter";

describe("filterFromParams", () => {
  it("turns the URL's text into numbers and day starts, and leaves the rest out", () => {
    const filter = filterFromParams({ project_id: "3", attempts_min: "2", created_from: "2026-11-20" });
    expect(filter.project_id).toBe(3);
    expect(filter.attempts_min).toBe(2);
    expect(filter.created_from).toBe(new Date("2026-11-20T00:00:00").toISOString());
    expect(filter.status).toBeUndefined();
    expect(Object.values(filter).filter((v) => v !== undefined)).toHaveLength(3);
  });

  it("passes a block prefix as typed and drops an empty one", () => {
    expect(filterFromParams({ prefix: "+7 701" }).prefix).toBe("+7 701");
    expect(filterFromParams({ prefix: "  " }).prefix).toBeUndefined();
  });

  it("keeps a zero, which is a real bound", () => {
    expect(filterFromParams({ attempts_max: "0" }).attempts_max).toBe(0);
  });
});
