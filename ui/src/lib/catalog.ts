// Lists most pages pick from (providers, geos, statuses, projects), cached and shared.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { queryKeys } from "./queryKeys";

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

export function useProjects() {
  const projects = useQuery({ queryKey: ["projects"], queryFn: async () => unwrap(await api.GET("/api/v1/projects")) });
  return projects.data ?? [];
}
