// Users (role and provider scope), roles (permission sets) and API tokens.
import { useState, type FormEvent } from "react";
import { Badge, Group, Tooltip } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "react-router-dom";
import { api, ensureOk, unwrap } from "../api/client";
import { DataTable, ErrorText } from "../components/ui";
import { formatDate } from "../lib/format";
import { useI18n } from "../lib/i18n";
import { CreatePanel } from "../components/CreatePanel";
import { DateInput } from "@mantine/dates";
import { useDisclosure } from "@mantine/hooks";
import { readListState, withFilter } from "../lib/listState";
import { useCatalog } from "../lib/catalog";

function usePermissions() {
  return useQuery({ queryKey: ["permissions"], queryFn: async () => unwrap(await api.GET("/api/v1/permissions")) });
}

function useAllRoles() {
  return useQuery({ queryKey: ["roles", "all"], queryFn: async () => unwrap(await api.GET("/api/v1/roles", { params: { query: { limit: 500 } } })) });
}

export function UsersPage() {
  const { t, locale } = useI18n();
  const [creating, { open: openCreate, close: closeCreate }] = useDisclosure(false);
  const [params, setParams] = useSearchParams();
  const state = readListState(params);
  const queryClient = useQueryClient();
  const roles = useAllRoles();
  const { providers } = useCatalog();
  const [error, setError] = useState<unknown>(null);
  const list = useQuery({
    queryKey: ["users", params.toString()],
    queryFn: async () => unwrap(await api.GET("/api/v1/users", { params: { query: { cursor: state.cursor, sort: state.sort, q: state.filters.q } } })),
  });
  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    try {
      unwrap(
        await api.POST("/api/v1/users", {
          body: {
            email: String(form.get("email")),
            display_name: String(form.get("display_name")),
            password: String(form.get("password")),
            role_id: Number(form.get("role_id")),
            locale: String(form.get("locale")),
            scopes: { providers: form.getAll("providers").map(Number), projects: [] },
          },
        }),
      );
      setError(null);
      await queryClient.invalidateQueries({ queryKey: ["users"] });
      closeCreate();
    } catch (err) {
      setError(err);
    }
  }
  async function toggle(id: number, disabled: boolean) {
    try {
      unwrap(await api.PATCH("/api/v1/users/{id}", { params: { path: { id } }, body: { disabled } }));
      await queryClient.invalidateQueries({ queryKey: ["users"] });
    } catch (err) {
      setError(err);
    }
  }
  const providerCode = (id: number) => providers.find((p) => p.id === id)?.code ?? `#${id}`;
  return (
    <>
      <h2>{t("users")}</h2>
      <CreatePanel label={t("newUser")} opened={creating} onOpen={openCreate} onClose={closeCreate}>
      <form className="form" onSubmit={create} aria-label={t("newUser")}>
        <div className="grid">
          <label>
            {t("email")}
            <input name="email" type="email" required />
          </label>
          <label>
            {t("name")}
            <input name="display_name" />
          </label>
          <label>
            {t("password")}
            <input name="password" type="password" minLength={10} required autoComplete="new-password" />
          </label>
          <label>
            {t("role")}
            <select name="role_id">
              {roles.data?.items.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t("language")}
            <select name="locale" defaultValue={locale}>
              <option value="en">English</option>
              <option value="ru">Русский</option>
            </select>
          </label>
        </div>
        <fieldset>
          <legend>{t("scopes")}</legend>
          <div className="checks">
            {providers.map((p) => (
              <label key={p.id}>
                <input type="checkbox" name="providers" value={p.id} /> {p.code}
              </label>
            ))}
          </div>
        </fieldset>
        <div>
          <button className="primary" type="submit">
            {t("create")}
          </button>
        </div>
        <ErrorText error={error} />
      </form>
      </CreatePanel>
      <div className="toolbar">
        <label>
          {t("search")}
          <input defaultValue={state.filters.q ?? ""} onChange={(e) => setParams(withFilter(params, "q", e.target.value))} />
        </label>
      </div>
      <ErrorText error={list.error} />
      <DataTable
        label={t("users")}
        loading={list.isLoading}
        rows={list.data?.items}
        nextCursor={list.data?.next_cursor}
        rowKey={(u) => u.id}
        columns={[
          { key: "email", title: t("email"), sortable: true, render: (u) => u.email },
          { key: "name", title: t("name"), sortable: true, render: (u) => u.display_name },
          { key: "role", title: t("role"), render: (u) => u.role },
          { key: "scope", title: t("scopes"), render: (u) => (u.scopes.providers?.length ? u.scopes.providers.map(providerCode).join(", ") : "–") },
          { key: "created_at", title: t("createdAt"), sortable: true, render: (u) => formatDate(u.created_at, locale) },
          {
            key: "disabled",
            title: t("disabled"),
            render: (u) => <input type="checkbox" aria-label={`${t("disabled")} ${u.email}`} checked={u.disabled} onChange={(e) => toggle(u.id, e.target.checked)} />,
          },
        ]}
      />
    </>
  );
}

export function RolesPage() {
  const { t } = useI18n();
  const [creating, { open: openCreate, close: closeCreate }] = useDisclosure(false);
  const [params] = useSearchParams();
  const state = readListState(params);
  const queryClient = useQueryClient();
  const permissions = usePermissions();
  const [error, setError] = useState<unknown>(null);
  const list = useQuery({
    queryKey: ["roles", params.toString()],
    queryFn: async () => unwrap(await api.GET("/api/v1/roles", { params: { query: { cursor: state.cursor, sort: state.sort } } })),
  });
  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    try {
      unwrap(
        await api.POST("/api/v1/roles", {
          body: { name: String(form.get("name")), description: String(form.get("description")), permissions: form.getAll("permissions").map(String) },
        }),
      );
      setError(null);
      await queryClient.invalidateQueries({ queryKey: ["roles"] });
      closeCreate();
    } catch (err) {
      setError(err);
    }
  }
  async function remove(id: number) {
    try {
      ensureOk(await api.DELETE("/api/v1/roles/{id}", { params: { path: { id } } }));
      await queryClient.invalidateQueries({ queryKey: ["roles"] });
    } catch (err) {
      setError(err);
    }
  }
  return (
    <>
      <h2>{t("roles")}</h2>
      <CreatePanel label={t("newRole")} opened={creating} onOpen={openCreate} onClose={closeCreate}>
      <form className="form" onSubmit={create} aria-label={t("newRole")}>
        <div className="grid">
          <label>
            {t("name")}
            <input name="name" required />
          </label>
          <label>
            {t("details")}
            <input name="description" />
          </label>
        </div>
        <div className="checks">
          {permissions.data?.map((p) => (
            <label key={p.name} title={p.description}>
              <input type="checkbox" name="permissions" value={p.name} /> <PermissionName name={p.name} />
            </label>
          ))}
        </div>
        <div>
          <button className="primary" type="submit">
            {t("create")}
          </button>
        </div>
        <ErrorText error={error} />
      </form>
      </CreatePanel>
      <DataTable
        label={t("roles")}
        loading={list.isLoading}
        rows={list.data?.items}
        nextCursor={list.data?.next_cursor}
        rowKey={(r) => r.id}
        columns={[
          { key: "name", title: t("name"), sortable: true, render: (r) => (r.built_in ? `${r.name} (${t("builtIn")})` : r.name) },
          { key: "permissions", title: t("permissions"), render: (r) => <PermissionList names={r.permissions} /> },
          { key: "users", title: t("usersCount"), numeric: true, render: (r) => r.users },
          { key: "delete", title: "", render: (r) => (r.built_in ? null : <button className="danger" onClick={() => remove(r.id)}>{t("delete")}</button>) },
        ]}
      />
    </>
  );
}

export function TokensPage() {
  const { t, locale } = useI18n();
  const [creating, { open: openCreate, close: closeCreate }] = useDisclosure(false);
  const [params] = useSearchParams();
  const state = readListState(params);
  const queryClient = useQueryClient();
  const me = queryClient.getQueryData<{ permissions: string[] }>(["me"]);
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const list = useQuery({
    queryKey: ["tokens", params.toString()],
    queryFn: async () => unwrap(await api.GET("/api/v1/tokens", { params: { query: { cursor: state.cursor, sort: state.sort } } })),
  });
  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const expires = String(form.get("expires_at") || "");
    try {
      const created = unwrap(
        await api.POST("/api/v1/tokens", {
          body: {
            name: String(form.get("name")),
            permissions: form.getAll("permissions").map(String),
            expires_at: expires ? new Date(expires).toISOString() : null,
          },
        }),
      );
      setSecret(created.secret);
      setError(null);
      await queryClient.invalidateQueries({ queryKey: ["tokens"] });
      // The panel stays open: the secret is shown once, in it.
    } catch (err) {
      setError(err);
    }
  }
  async function revoke(id: number) {
    try {
      unwrap(await api.DELETE("/api/v1/tokens/{id}", { params: { path: { id } } }));
      await queryClient.invalidateQueries({ queryKey: ["tokens"] });
    } catch (err) {
      setError(err);
    }
  }
  return (
    <>
      <h2>{t("tokens")}</h2>
      <CreatePanel label={t("newToken")} opened={creating} onOpen={openCreate} onClose={closeCreate}>
      <form className="form" onSubmit={create} aria-label={t("newToken")}>
        <div className="grid">
          <label>
            {t("name")}
            <input name="name" required />
          </label>
          <DateInput name="expires_at" label={t("expires")} valueFormat="ll" clearable minDate={new Date().toISOString().slice(0, 10)} />
        </div>
        <div className="checks">
          {me?.permissions.map((p) => (
            <label key={p}>
              <input type="checkbox" name="permissions" value={p} /> <PermissionName name={p} />
            </label>
          ))}
        </div>
        <div>
          <button className="primary" type="submit">
            {t("create")}
          </button>
        </div>
        {secret && (
          <div>
            <p>{t("tokenShownOnce")}</p>
            <code className="secret" data-testid="token-secret">
              {secret}
            </code>
          </div>
        )}
        <ErrorText error={error} />
      </form>
      </CreatePanel>
      <DataTable
        label={t("tokens")}
        loading={list.isLoading}
        rows={list.data?.items}
        nextCursor={list.data?.next_cursor}
        rowKey={(k) => k.id}
        columns={[
          { key: "name", title: t("name"), sortable: true, render: (k) => k.name },
          { key: "permissions", title: t("permissions"), render: (k) => <PermissionList names={k.permissions} /> },
          { key: "created_at", title: t("createdAt"), sortable: true, render: (k) => formatDate(k.created_at, locale) },
          { key: "expires", title: t("expires"), render: (k) => formatDate(k.expires_at, locale) },
          { key: "used", title: t("lastUsed"), render: (k) => formatDate(k.last_used_at, locale) },
          { key: "revoke", title: "", render: (k) => (k.revoked_at ? formatDate(k.revoked_at, locale) : <button className="danger" onClick={() => revoke(k.id)}>{t("revoke")}</button>) },
        ]}
      />
    </>
  );
}

/** A permission in words, with what it allows as its tooltip. */
function PermissionName({ name }: { name: string }) {
  const { label } = useI18n();
  return (
    <Tooltip label={label("permissionHelp", name)} multiline maw={320}>
      <span>{label("permission", name)}</span>
    </Tooltip>
  );
}

function PermissionList({ names }: { names: string[] }) {
  return (
    <Group gap={4}>
      {names.map((n) => (
        <Badge key={n} variant="light" color="gray" radius="sm" style={{ textTransform: "none" }}>
          <PermissionName name={n} />
        </Badge>
      ))}
    </Group>
  );
}
