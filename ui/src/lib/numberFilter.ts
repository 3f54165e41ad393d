// The numbers page's filter: the URL's text values as the API's filter. The list and the
// bulk actions send the same object, so "the whole filter" is what the page shows.
import type { Schemas } from "../api/client";

/** The API's filter without nulls: the list's query string takes only present values. */
export type NumberFilter = { [K in keyof Schemas["Filter"]]?: NonNullable<Schemas["Filter"][K]> };

/** A date input gives YYYY-MM-DD; the API takes an instant (the day's start, local time). */
function toInstant(value: string | undefined) {
  return value ? new Date(`${value}T00:00:00`).toISOString() : undefined;
}

const num = (value: string | undefined) => (value ? Number(value) : undefined);

/** The URL's filters as the API's filter (the same object for the list and bulk actions). */
export function filterFromParams(f: Record<string, string>): NumberFilter {
  return {
    project_id: num(f.project_id),
    provider_id: num(f.provider_id),
    geo_id: num(f.geo_id),
    status: num(f.status),
    attempts_min: num(f.attempts_min),
    attempts_max: num(f.attempts_max),
    created_from: toInstant(f.created_from),
    created_to: toInstant(f.created_to),
    called_from: toInstant(f.called_from),
    called_to: toInstant(f.called_to),
    // A block: the digits a number starts with ("+7 701" is sent as typed; the server keeps the digits).
    prefix: f.prefix?.trim() || undefined,
  };
}

