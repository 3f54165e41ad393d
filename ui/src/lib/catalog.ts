// Lists most pages pick from (providers, geos, statuses, projects), cached and shared.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { queryKeys } from "./queryKeys";
import { useI18n } from "./i18n";

export function useCatalog() {
  const providers = useQuery({
    queryKey: queryKeys.allProviders,
    queryFn: async () => unwrap(await api.GET("/api/v1/providers", { params: { query: { limit: 500 } } })).items,
  });
  const geos = useQuery({
    queryKey: queryKeys.allGeos,
    queryFn: async () => unwrap(await api.GET("/api/v1/geos", { params: { query: { limit: 500, sort: "code" } } })).items,
  });
  return { providers: providers.data ?? [], geos: geos.data ?? [] };
}

export function useStatuses() {
  const statuses = useQuery({ queryKey: ["statuses"], queryFn: async () => unwrap(await api.GET("/api/v1/statuses")) });
  return statuses.data ?? [];
}

/** A status in words: built-in codes from the catalogue (so in the reader's language),
 * a tenant's own statuses by the name they gave it. */
export function useStatusLabel() {
  const statuses = useStatuses();
  const { locale, label } = useI18n();
  return (idOrCode: number | string | null | undefined) => {
    if (idOrCode === null || idOrCode === undefined) return "–";
    const status = statuses.find((s) => s.id === idOrCode || s.code === idOrCode);
    const code = status?.code ?? String(idOrCode);
    const known = label("status", code);
    // `label` falls back to the code in words; a tenant's own name reads better.
    return locale && status && known.toLowerCase() === code.replace(/_/g, " ") ? status.name : known;
  };
}

export function useProjects() {
  const projects = useQuery({ queryKey: ["projects"], queryFn: async () => unwrap(await api.GET("/api/v1/projects")) });
  return projects.data ?? [];
}
