// Partners: SFTP accounts (per provider; password and/or public keys; inbox quotas) and
// the uploads they made, with what became of each, live.
import { useState, type FormEvent } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { ErrorText } from "../components/ui";
import { CreatePanel } from "../components/CreatePanel";
import { useDisclosure } from "@mantine/hooks";
import { useCatalog } from "../lib/catalog";
import { formatBytes, formatDate, intlLocale } from "../lib/format";
import { useI18n } from "../lib/i18n";

export function PartnersPage() {
  const { t, label, locale } = useI18n();
  const [creating, { open: openCreate, close: closeCreate }] = useDisclosure(false);
  const queryClient = useQueryClient();
  const { providers } = useCatalog();
  const [error, setError] = useState<unknown>(null);
  const accounts = useQuery({ queryKey: ["sftp-accounts"], queryFn: async () => unwrap(await api.GET("/api/v1/sftp/accounts")) });
  const uploads = useQuery({
    queryKey: ["sftp-uploads"],
    queryFn: async () => unwrap(await api.GET("/api/v1/sftp/uploads", { params: { query: { limit: 100 } } })),
    refetchInterval: 2000,
  });

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setError(null);
    const form = new FormData(e.currentTarget);
    const target = e.currentTarget;
    const text = (name: string) => String(form.get(name) ?? "").trim();
    const number = (name: string) => (text(name) ? Number(text(name)) : undefined);
    try {
      unwrap(
        await api.POST("/api/v1/sftp/accounts", {
          body: {
            username: text("username"),
            provider_code: text("provider"),
            password: text("password") || undefined,
            public_keys: text("keys")
              .split("\n")
              .map((k) => k.trim())
              .filter(Boolean),
            quota_mb: number("quota_mb"),
            quota_files: number("quota_files"),
          },
        }),
      );
      target.reset();
      await queryClient.invalidateQueries({ queryKey: ["sftp-accounts"] });
      closeCreate();
    } catch (err) {
      setError(err);
    }
  }

  return (
    <>
      <h2>{t("partners")}</h2>
      <CreatePanel label={t("addPartner")} opened={creating} onOpen={openCreate} onClose={closeCreate}>
      <form className="form" aria-label={t("addPartner")} onSubmit={create}>
        <label>
          {t("username")}
          <input name="username" required pattern="[a-z0-9][a-z0-9._\-]{1,62}" />
        </label>
        <label>
          {t("provider")}
          <select name="provider" required>
            {providers.map((p) => (
              <option key={p.id} value={p.code}>
                {p.code}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("password")}
          <input name="password" type="password" autoComplete="new-password" minLength={10} />
        </label>
        <label>
          {t("publicKeys")}
          <textarea name="keys" rows={3} placeholder="ssh-ed25519 AAAA… partner@example.com" />
        </label>
        <label>
          {t("quotaMb")}
          <input name="quota_mb" type="number" min={1} />
        </label>
        <label>
          {t("quotaFiles")}
          <input name="quota_files" type="number" min={1} />
        </label>
        <button className="primary" type="submit">
          {t("addPartner")}
        </button>
        <ErrorText error={error} />
      </form>
      </CreatePanel>
      <div className="table-wrap" tabIndex={0}>
      <table aria-label={t("partners")}>
        <thead>
          <tr>
            <th>{t("username")}</th>
            <th>{t("provider")}</th>
            <th>{t("password")}</th>
            <th>{t("publicKeys")}</th>
            <th>{t("quotaFiles")}</th>
            <th>{t("lastLogin")}</th>
            <th>{t("lastUpload")}</th>
          </tr>
        </thead>
        <tbody>
          {(accounts.data ?? []).map((a) => (
            <tr key={a.id}>
              <td>{a.username}</td>
              <td>{a.provider_code}</td>
              <td>{a.has_password ? "✓" : "–"}</td>
              <td>{a.public_keys.length}</td>
              <td>
                {a.quota_files} / {formatBytes(a.quota_bytes)}
              </td>
              <td>{formatDate(a.last_login_at, locale)}</td>
              <td>{formatDate(a.last_upload_at, locale)}</td>
            </tr>
          ))}
        </tbody>
      </table>
</div>
      <section className="panel" aria-label={t("uploads")}>
        <h3>{t("uploads")}</h3>
        <ErrorText error={uploads.error} />
        <div className="table-wrap" tabIndex={0}>
        <table aria-label={t("uploads")}>
          <thead>
            <tr>
              <th>{t("received")}</th>
              <th>{t("username")}</th>
              <th>{t("file")}</th>
              <th className="num">{t("size")}</th>
              <th>{t("status")}</th>
            </tr>
          </thead>
          <tbody>
            {(uploads.data ?? []).length === 0 && (
              <tr>
                <td colSpan={5} className="muted">
                  {t("noRows")}
                </td>
              </tr>
            )}
            {(uploads.data ?? []).map((u) => (
              <tr key={u.id}>
                <td>{formatDate(u.received_at, locale)}</td>
                <td>{u.username}</td>
                <td>{u.file_name}</td>
                <td className="num">{formatBytes(u.bytes, intlLocale(locale))}</td>
                <td>{u.outcome === "duplicate" ? t("duplicateUpload") : `${t("importJob")} #${u.job_id}: ${u.job_state ? label("jobState", u.job_state) : ""}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
</div>
      </section>
    </>
  );
}
