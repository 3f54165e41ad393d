import { describe, expect, it } from "vitest";
import { readListState, sortIndicator, withCursor, withFilter, withSort } from "./listState";

describe("list state in the URL", () => {
  it("separates filters from paging", () => {
    const state = readListState(new URLSearchParams("q=mos&cursor=abc&sort=-name&country="));
    expect(state).toEqual({ cursor: "abc", sort: "-name", filters: { q: "mos" } });
  });

  it("restarts at the first page when a filter or the sort changes", () => {
    const params = new URLSearchParams("q=a&cursor=abc&sort=code");
    expect(withFilter(params, "q", "b").toString()).toBe("q=b&sort=code");
    expect(withFilter(params, "q", "").toString()).toBe("sort=code");
    expect(withSort(params, "code").toString()).toBe("q=a&sort=-code");
    expect(withSort(params, "name").toString()).toBe("q=a&sort=name");
  });

  it("moves the cursor only", () => {
    const params = new URLSearchParams("q=a");
    expect(withCursor(params, "next").toString()).toBe("q=a&cursor=next");
    expect(withCursor(new URLSearchParams("cursor=x"), null).toString()).toBe("");
    expect(sortIndicator("-code", "code")).toBe(" ▼");
    expect(sortIndicator("code", "name")).toBe("");
  });
});
