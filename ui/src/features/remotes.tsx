// Remote SFTP hosts Dialpool pulls files from or pushes exports to: add one, test its
// connection, confirm the host key the test shows (nothing is sent to an unconfirmed
// host), run it now; failing remotes alert at the top; the transfer log underneath, live.
import { useState, type FormEvent } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import type { components } from "../api/schema";
import { ErrorText } from "../components/ui";
import { confirmAction } from "../components/feedback";
import { CreatePanel } from "../components/CreatePanel";
import { useDisclosure } from "@mantine/hooks";
import { CronInput, CronText } from "../components/CronInput";
import { useCatalog } from "../lib/catalog";
import { formatBytes, formatDate, intlLocale } from "../lib/format";
import { useI18n, type MessageKey } from "../lib/i18n";

type Remote = components["schemas"]["SftpRemote"];
type ConnectionTest = components["schemas"]["ConnectionTest"];
type Direction = components["schemas"]["Direction"];
type AfterPull = components["schemas"]["AfterPull"];

const DIRECTIONS: [Direction, MessageKey][] = [
  ["pull_numbers", "pullNumbers"],
  ["pull_outcomes", "pullOutcomes"],
  ["push_exports", "pushExports"],
];
const AFTER_PULL: [AfterPull, MessageKey][] = [
  ["leave", "afterLeave"],
  ["move", "afterMove"],
  ["delete", "afterDelete"],
];

export function RemotesPage() {
  const { t, label, locale } = useI18n();
  const [creating, { open: openCreate, close: closeCreate }] = useDisclosure(false);
  const queryClient = useQueryClient();
  const { providers } = useCatalog();
  const [error, setError] = useState<unknown>(null);
  const [direction, setDirection] = useState<Direction>("pull_numbers");
  const [afterPull, setAfterPull] = useState<AfterPull>("leave");
  const [cron, setCron] = useState("*/15 * * * *");
  const remotes = useQuery({
    queryKey: ["sftp-remotes"],
    queryFn: async () => unwrap(await api.GET("/api/v1/sftp/remotes")),
    refetchInterval: 5000,
  });
  const transfers = useQuery({
    queryKey: ["sftp-transfers"],
    queryFn: async () => unwrap(await api.GET("/api/v1/sftp/transfers", { params: { query: { limit: 100 } } })),
    refetchInterval: 3000,
  });
  const failing = (remotes.data ?? []).filter((r) => r.consecutive_failures > 0);

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setError(null);
    const form = new FormData(e.currentTarget);
    const target = e.currentTarget;
    const text = (name: string) => String(form.get(name) ?? "").trim();
    try {
      unwrap(
        await api.POST("/api/v1/sftp/remotes", {
          body: {
            name: text("name"),
            host: text("host"),
            port: Number(text("port") || 22),
            username: text("username"),
            password: text("password") || undefined,
            private_key: text("private_key") || undefined,
            direction,
            remote_dir: text("remote_dir") || ".",
            file_pattern: text("file_pattern") || "*",
            after_pull: afterPull,
            move_to: afterPull === "move" ? text("move_to") : undefined,
            provider_code: direction === "pull_numbers" ? text("provider") : undefined,
            cron: text("cron") || "*/15 * * * *",
          },
        }),
      );
      target.reset();
      setAfterPull("leave");
      setCron("*/15 * * * *");
      await queryClient.invalidateQueries({ queryKey: ["sftp-remotes"] });
      closeCreate();
    } catch (err) {
      setError(err);
    }
  }

  return (
    <>
      <h2>{t("remotes")}</h2>
      {failing.length > 0 && (
        <div className="panel error" role="alert">
          {t("failingRemotes")}:{" "}
          {failing.map((r) => `${r.name} (${r.consecutive_failures}× — ${r.last_error ?? ""})`).join("; ")}
        </div>
      )}
      <CreatePanel label={t("addRemote")} opened={creating} onOpen={openCreate} onClose={closeCreate}>
      <form className="form" aria-label={t("addRemote")} onSubmit={create}>
        <label>
          {t("name")}
          <input name="name" required />
        </label>
        <label>
          {t("host")}
          <input name="host" required pattern="[A-Za-z0-9._:\-]+" />
        </label>
        <label>
          {t("port")}
          <input name="port" type="number" min={1} max={65535} defaultValue={22} />
        </label>
        <label>
          {t("username")}
          <input name="username" required autoComplete="off" />
        </label>
        <label>
          {t("password")}
          <input name="password" type="password" autoComplete="new-password" />
        </label>
        <label>
          {t("privateKey")}
          <textarea name="private_key" rows={3} placeholder="-----BEGIN OPENSSH PRIVATE KEY-----" />
        </label>
        <label>
          {t("direction")}
          <select name="direction" value={direction} onChange={(e) => setDirection(e.target.value as Direction)}>
            {DIRECTIONS.map(([value, label]) => (
              <option key={value} value={value}>
                {t(label)}
              </option>
            ))}
          </select>
        </label>
        {direction === "pull_numbers" && (
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
        )}
        <label>
          {t("remoteDir")}
          <input name="remote_dir" placeholder="/outgoing" />
        </label>
        {direction !== "push_exports" && (
          <>
            <label>
              {t("filePattern")}
              <input name="file_pattern" placeholder="*.csv" />
            </label>
            <label>
              {t("afterPull")}
              <select name="after_pull" value={afterPull} onChange={(e) => setAfterPull(e.target.value as AfterPull)}>
                {AFTER_PULL.map(([value, label]) => (
                  <option key={value} value={value}>
                    {t(label)}
                  </option>
                ))}
              </select>
            </label>
            {afterPull === "move" && (
              <label>
                {t("moveTo")}
                <input name="move_to" required placeholder="done" />
              </label>
            )}
          </>
        )}
        <CronInput name="cron" label={t("schedule")} value={cron} onChange={(e) => setCron(e.currentTarget.value)} onPick={setCron} />
        <button className="primary" type="submit">
          {t("addRemote")}
        </button>
        <ErrorText error={error} />
      </form>
      </CreatePanel>
      <div className="table-wrap" tabIndex={0}>
      <table aria-label={t("remotes")}>
        <thead>
          <tr>
            <th>{t("name")}</th>
            <th>{t("direction")}</th>
            <th>{t("host")}</th>
            <th>{t("hostKey")}</th>
            <th>{t("schedule")}</th>
            <th>{t("status")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(remotes.data ?? []).map((r) => (
            <RemoteRow key={r.id} remote={r} locale={locale} />
          ))}
        </tbody>
      </table>
</div>
      <section className="panel" aria-label={t("transfers")}>
        <h3>{t("transfers")}</h3>
        <ErrorText error={transfers.error} />
        <div className="table-wrap" tabIndex={0}>
        <table aria-label={t("transfers")}>
          <thead>
            <tr>
              <th>{t("started")}</th>
              <th>{t("name")}</th>
              <th>{t("direction")}</th>
              <th>{t("status")}</th>
              <th className="num">{t("files")}</th>
              <th className="num">{t("size")}</th>
              <th>{t("details")}</th>
            </tr>
          </thead>
          <tbody>
            {(transfers.data ?? []).length === 0 && (
              <tr>
                <td colSpan={7} className="muted">
                  {t("noRows")}
                </td>
              </tr>
            )}
            {(transfers.data ?? []).map((x) => (
              <tr key={x.id}>
                <td>{formatDate(x.started_at, locale)}</td>
                <td>{x.remote_name}</td>
                <td>{label("direction", x.direction)}</td>
                <td className={x.status === "failed" ? "error" : undefined}>{label("taskStatus", x.status)}</td>
                <td className="num">{x.files}</td>
                <td className="num">{formatBytes(x.bytes, intlLocale(locale))}</td>
                <td className={x.error ? "error" : undefined}>
                  {x.error ?? x.details.map((f) => `${f.name}: ${label("taskStatus", f.outcome)}`).join(", ")}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
</div>
      </section>
    </>
  );
}

function RemoteRow({ remote: r, locale }: { remote: Remote; locale: string }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [test, setTest] = useState<ConnectionTest | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["sftp-remotes"] });

  async function act(work: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  const testConnection = () =>
    act(async () => {
      setTest(unwrap(await api.POST("/api/v1/sftp/remotes/{id}/test", { params: { path: { id: r.id } } })));
      await refresh();
    });
  const confirm = (fingerprint: string) =>
    act(async () => {
      unwrap(await api.POST("/api/v1/sftp/remotes/{id}/host-key", { params: { path: { id: r.id } }, body: { fingerprint } }));
      setTest(null);
      await refresh();
    });
  const switchEnabled = () =>
    act(async () => {
      unwrap(
        await api.PUT("/api/v1/sftp/remotes/{id}", {
          params: { path: { id: r.id } },
          body: {
            name: r.name,
            host: r.host,
            port: r.port,
            username: r.username,
            direction: r.direction,
            remote_dir: r.remote_dir,
            file_pattern: r.file_pattern,
            after_pull: r.after_pull,
            move_to: r.move_to ?? undefined,
            provider_code: r.provider_code ?? undefined,
            import_options: r.import_options,
            enabled: !r.enabled,
            cron: r.cron ?? "*/15 * * * *",
            time_zone: r.time_zone ?? "UTC",
          },
        }),
      );
      await refresh();
    });
  const remove = () =>
    act(async () => {
      if (!(await confirmAction({ title: t("delete"), body: t("confirmDeleteRemote"), confirm: t("delete"), cancel: t("cancel"), danger: true }))) return;
      unwrap(await api.DELETE("/api/v1/sftp/remotes/{id}", { params: { path: { id: r.id } } }));
      await refresh();
    });
  const runNow = () =>
    act(async () => {
      unwrap(await api.POST("/api/v1/sftp/remotes/{id}/run", { params: { path: { id: r.id } } }));
      await queryClient.invalidateQueries({ queryKey: ["sftp-transfers"] });
    });
  const offered = test?.offered_host_key_fingerprint ?? r.offered_host_key_fingerprint;
  const direction = DIRECTIONS.find(([value]) => value === r.direction)?.[1];

  return (
    <>
      <tr>
        <td>{r.name}</td>
        <td>{direction ? t(direction) : r.direction}</td>
        <td>
          {r.username}@{r.host}:{r.port}
          <div className="muted">
            {r.remote_dir}
            {r.direction !== "push_exports" && `/${r.file_pattern}`}
          </div>
        </td>
        <td>
          <code>{r.host_key_fingerprint ?? t("notConfirmed")}</code>
        </td>
        <td>
          <CronText expression={r.cron} />
        </td>
        <td className={r.consecutive_failures > 0 ? "error" : undefined} title={r.last_error ?? ""}>
          {!r.enabled && <div className="muted">{t("disabled")}</div>}
          {r.consecutive_failures > 0
            ? `${t("failing")} (${r.consecutive_failures})`
            : r.last_success_at
              ? `${t("lastSuccess")}: ${formatDate(r.last_success_at, locale)}`
              : "–"}
        </td>
        <td>
          <button type="button" disabled={busy} onClick={testConnection}>
            {t("testConnection")}
          </button>{" "}
          <button type="button" disabled={busy || !r.host_key_fingerprint || !r.enabled} onClick={runNow}>
            {t("runNow")}
          </button>{" "}
          <button type="button" disabled={busy} onClick={switchEnabled}>
            {r.enabled ? t("switchOff") : t("switchOn")}
          </button>{" "}
          <button type="button" disabled={busy} onClick={remove}>
            {t("delete")}
          </button>
        </td>
      </tr>
      {(test || offered || error) && (
        <tr>
          <td colSpan={7}>
            {test && (
              <div role="status" className={test.ok ? undefined : "error"}>
                {test.message}
              </div>
            )}
            {offered && (
              <div>
                {t("offeredKey")}: <code>{offered}</code>{" "}
                <button type="button" disabled={busy} onClick={() => confirm(offered)}>
                  {t("confirmKey")}
                </button>
              </div>
            )}
            <ErrorText error={error} />
          </td>
        </tr>
      )}
    </>
  );
}
