// Webhooks: subscribers (the secret shown once), test, pause, rotate, and each one's
// delivery log with every try and a "send again".
import { useState, type FormEvent } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ensureOk, unwrap, type Schemas } from "../api/client";
import { ErrorText } from "../components/ui";
import { confirmAction } from "../components/feedback";
import { CreatePanel } from "../components/CreatePanel";
import { useDisclosure } from "@mantine/hooks";
import { formatDate } from "../lib/format";
import { useI18n } from "../lib/i18n";

type Subscription = Schemas["Subscription"];

export function WebhooksPage() {
  const { t, label } = useI18n();
  const [creating, { open: openCreate, close: closeCreate }] = useDisclosure(false);
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<{ id: number; secret: string } | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const list = useQuery({ queryKey: ["webhooks"], queryFn: async () => unwrap(await api.GET("/api/v1/webhooks")) });
  const events = useQuery({ queryKey: ["webhook-events"], queryFn: async () => unwrap(await api.GET("/api/v1/webhooks/events")) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["webhooks"] });

  async function act(work: () => Promise<void>) {
    setError(null);
    try {
      await work();
      await refresh();
    } catch (err) {
      setError(err);
    }
  }
  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const target = e.currentTarget;
    await act(async () => {
      const created = unwrap(
        await api.POST("/api/v1/webhooks", {
          body: { url: String(form.get("url")), description: String(form.get("description") ?? ""), events: form.getAll("events").map(String) },
        }),
      );
      setSecret({ id: created.id, secret: created.secret });
      target.reset();
      closeCreate();
    });
  }
  const update = (w: Subscription, change: Partial<Schemas["SubscriptionInput"]>) =>
    act(async () => {
      unwrap(
        await api.PUT("/api/v1/webhooks/{id}", {
          params: { path: { id: w.id } },
          body: { url: w.url, description: w.description, events: w.events, active: w.active, ...change },
        }),
      );
    });

  return (
    <>
      <h2>{t("webhooks")}</h2>
      <CreatePanel label={t("addWebhook")} opened={creating} onOpen={openCreate} onClose={closeCreate}>
      <form className="form" aria-label={t("addWebhook")} onSubmit={create}>
        <label>
          URL
          <input name="url" type="url" required placeholder="https://crm.example.com/hooks/dialpool" />
        </label>
        <label>
          {t("description")}
          <input name="description" />
        </label>
        <fieldset>
          <legend>{t("events")}</legend>
          {events.data
            ?.filter((ev) => ev.name !== "ping")
            .map((ev) => (
              <label key={ev.name} className="check" title={ev.description}>
                <input type="checkbox" name="events" value={ev.name} defaultChecked={ev.name === "number.status_changed"} />
                {label("webhookEvent", ev.name)}
              </label>
            ))}
        </fieldset>
        <button className="primary" type="submit">
          {t("create")}
        </button>
      </form>
      </CreatePanel>
      {secret && (
        <p className="ok" role="status" data-testid="webhook-secret">
          {t("secretOnce")} <code>{secret.secret}</code>
        </p>
      )}
      <ErrorText error={error ?? list.error} />
      <div className="table-wrap" tabIndex={0}>
      <table aria-label={t("webhooks")}>
        <thead>
          <tr>
            <th>URL</th>
            <th>{t("events")}</th>
            <th>{t("secret")}</th>
            <th className="num">{t("waiting")}</th>
            <th className="num">{t("givenUp")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.data?.length === 0 && (
            <tr>
              <td colSpan={6} className="muted">
                {t("noRows")}
              </td>
            </tr>
          )}
          {list.data?.map((w) => (
            <tr key={w.id}>
              <td>
                {w.url}
                <div className="muted">{w.description}</div>
              </td>
              <td>{w.events.map((e) => label("webhookEvent", e)).join(", ")}</td>
              <td>
                <code>{w.secret_hint}</code>
              </td>
              <td className="num">{w.pending}</td>
              <td className="num">{w.dead}</td>
              <td>
                <button onClick={() => act(async () => void unwrap(await api.POST("/api/v1/webhooks/{id}/ping", { params: { path: { id: w.id } } })))}>{t("sendTest")}</button>{" "}
                <button onClick={() => update(w, { active: !w.active })}>{w.active ? t("pause") : t("resume")}</button>{" "}
                <button
                  onClick={() =>
                    act(async () => {
                      const rotated = unwrap(await api.POST("/api/v1/webhooks/{id}/rotate-secret", { params: { path: { id: w.id } } }));
                      setSecret({ id: w.id, secret: rotated.secret });
                    })
                  }
                >
                  {t("rotateSecret")}
                </button>{" "}
                <button onClick={() => setOpen(open === w.id ? null : w.id)}>{t("deliveries")}</button>{" "}
                <button
                  className="danger"
                  onClick={async () =>
                    (await confirmAction({ title: t("delete"), body: t("confirmDeleteWebhook"), confirm: t("delete"), cancel: t("cancel"), danger: true })) &&
                    act(async () => ensureOk(await api.DELETE("/api/v1/webhooks/{id}", { params: { path: { id: w.id } } })))
                  }
                >
                  {t("delete")}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
</div>
      {open != null && <Deliveries id={open} />}
    </>
  );
}

function Deliveries({ id }: { id: number }) {
  const { t, locale } = useI18n();
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const log = useQuery({
    queryKey: ["webhook-deliveries", id],
    queryFn: async () => unwrap(await api.GET("/api/v1/webhooks/{id}/deliveries", { params: { path: { id }, query: { limit: 100 } } })),
    refetchInterval: 5000,
  });
  async function redeliver(delivery: number) {
    try {
      unwrap(await api.POST("/api/v1/webhooks/deliveries/{id}/redeliver", { params: { path: { id: delivery } } }));
      await queryClient.invalidateQueries({ queryKey: ["webhook-deliveries", id] });
    } catch (err) {
      setError(err);
    }
  }
  return (
    <section className="panel" aria-label={t("deliveries")}>
      <h3>{t("deliveries")}</h3>
      <ErrorText error={error ?? log.error} />
      <div className="table-wrap" tabIndex={0}>
      <table aria-label={t("deliveries")}>
        <thead>
          <tr>
            <th>#</th>
            <th>{t("event")}</th>
            <th>{t("status")}</th>
            <th className="num">{t("tries")}</th>
            <th>{t("lastAnswer")}</th>
            <th>{t("nextTry")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {log.data?.items.map((d) => (
            <tr key={d.id}>
              <td>{d.id}</td>
              <td>
                <details>
                  <summary>{d.event}</summary>
                  <pre>
                    {/* The body exactly as the subscriber received it. */}
                    <code>{JSON.stringify(d.payload, null, 1)}</code>
                  </pre>
                </details>
              </td>
              <td>{d.status}</td>
              <td className="num">{d.attempts}</td>
              <td>{d.last_status ?? d.last_error ?? "–"}</td>
              <td>{formatDate(d.next_attempt_at, locale)}</td>
              <td>
                <button onClick={() => redeliver(d.id)}>{t("sendAgain")}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
</div>
    </section>
  );
}
