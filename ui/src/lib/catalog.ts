// Lists most pages pick from (providers, geos, statuses, projects), cached and shared.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { queryKeys } from "./queryKeys";
import { codeLabel, useI18n } from "./i18n";

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
 * a tenant's own statuses by the name they gave them. */
export function useStatusLabel() {
  const statuses = useStatuses();
  const { locale } = useI18n();
  return (idOrCode: number | string | null | undefined) => {
    if (idOrCode === null || idOrCode === undefined) return "–";
    const status = statuses.find((s) => s.id === idOrCode || s.code === idOrCode);
    const code = status?.code ?? String(idOrCode);
    return codeLabel(locale, "status", code) ?? status?.name ?? code;
  };
}

export function useProjects() {
  const projects = useQuery({ queryKey: ["projects"], queryFn: async () => unwrap(await api.GET("/api/v1/projects")) });
  return projects.data ?? [];
}
