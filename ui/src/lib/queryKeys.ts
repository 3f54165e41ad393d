// Every query key the app caches under, with the shape of what it holds. A key is one
// list of data in one shape: two pages once cached the providers under the same key, one
// as a page ({items}) and one as its items, and whichever loaded second broke the other
// (a white screen on an ordinary menu click). Build keys here, never inline.
export const queryKeys = {
  /** Every provider, as an array (see `useCatalog`). */
  allProviders: ["catalog", "providers"] as const,
  /** Every geo, as an array (see `useCatalog`). */
  allGeos: ["catalog", "geos"] as const,
  /** A page of providers for the providers page, as the API returns it. */
  providersPage: (params: string) => ["providers", "page", params] as const,
  /** Everything under "providers" and the catalog's list, after a change to providers. */
  providersAny: ["providers"] as const,
} as const;
