// A list page's state lives in the URL: filters, sort and the keyset cursor. Changing a
// filter or the sort starts again at the first page; "next" only moves the cursor, so the
// browser's back button walks back through pages.

export type ListState = { cursor?: string; sort?: string; filters: Record<string, string> };

const PAGING_KEYS = ["cursor", "sort"];

export function readListState(params: URLSearchParams): ListState {
  const filters: Record<string, string> = {};
  params.forEach((value, key) => {
    if (!PAGING_KEYS.includes(key) && value !== "") filters[key] = value;
  });
  return { cursor: params.get("cursor") ?? undefined, sort: params.get("sort") ?? undefined, filters };
}

export function withFilter(params: URLSearchParams, key: string, value: string): URLSearchParams {
  const next = new URLSearchParams(params);
  if (value === "") next.delete(key);
  else next.set(key, value);
  next.delete("cursor");
  return next;
}

/** Clicking a column sorts by it; clicking again reverses; the cursor resets. */
export function withSort(params: URLSearchParams, key: string): URLSearchParams {
  const next = new URLSearchParams(params);
  const current = params.get("sort");
  next.set("sort", current === key ? `-${key}` : key);
  next.delete("cursor");
  return next;
}

export function withCursor(params: URLSearchParams, cursor: string | null | undefined): URLSearchParams {
  const next = new URLSearchParams(params);
  if (cursor) next.set("cursor", cursor);
  else next.delete("cursor");
  return next;
}

export function sortIndicator(sort: string | undefined, key: string): string {
  if (sort === key) return " ▲";
  if (sort === `-${key}`) return " ▼";
  return "";
}
