// Provider scorecards: what each provider's numbers were worth (delivery, duplicates, DNC,
// contact and success rates, median attempts and hours to success, cost per success,
// against the average, with a trend) per provider, month, geo, batch or number block, as
// a chart and a table with CSV and XLSX downloads; and returns: a provider's rules
// (statuses and rows refused at delivery), a dry run and the return batch itself.
import { lazy, Suspense, useMemo, useState, type FormEvent } from "react";
import { Button, Checkbox, NumberInput, Paper, SegmentedControl, SimpleGrid, Tabs, Text, TextInput } from "@mantine/core";
import { DateInput } from "@mantine/dates";
import { useMediaQuery } from "@mantine/hooks";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api/client";
import { DataTable, ErrorText } from "../components/ui";
import { notifyDone, notifyFailed } from "../components/feedback";
import { ProviderSelect } from "../components/pickers";
import { useCatalog, useStatusLabel } from "../lib/catalog";
import { successRateByMonth } from "../lib/charts";
import { useFormat } from "../lib/format";
import { useI18n } from "../lib/i18n";

const Chart = lazy(() => import("../components/Chart"));

type Row = Schemas["ScorecardRow"];
type By = "provider" | "month" | "geo" | "batch" | "block";
/** Rows an import refused that a provider's rules may take back. */
const REFUSALS = ["dnc_at_delivery", "duplicate"] as const;

export function ScorecardPage({ canManage }: { canManage: boolean }) {
  const { t } = useI18n();
  return (
    <>
      <h2>{t("scorecard")}</h2>
      <Tabs defaultValue="scorecard" keepMounted={false}>
        <Tabs.List mb="md">
          <Tabs.Tab value="scorecard">{t("scorecard")}</Tabs.Tab>
          {canManage && <Tabs.Tab value="returns">{t("returns")}</Tabs.Tab>}
        </Tabs.List>
        <Tabs.Panel value="scorecard">
          <Scorecard />
        </Tabs.Panel>
        {canManage && (
          <Tabs.Panel value="returns">
            <Returns />
          </Tabs.Panel>
        )}
      </Tabs>
    </>
  );
}

function Scorecard() {
  const { t } = useI18n();
  const f = useFormat();
  const { providers } = useCatalog();
  const [by, setBy] = useState<By>("provider");
  // Five choices do not fit side by side on a phone.
  const phone = useMediaQuery("(max-width: 48em)");
  const [from, setFrom] = useState<string | null>(null);
  const [to, setTo] = useState<string | null>(null);
  const [digits, setDigits] = useState<number>(4);
  const [prefix, setPrefix] = useState("");
  const blocks = by === "block" ? { digits, prefix: prefix.trim() || undefined } : {};
  const query = { by, from: from ?? undefined, to: to ?? undefined, ...blocks };
  const card = useQuery({
    queryKey: ["scorecard", query],
    queryFn: async () => unwrap(await api.GET("/api/v1/providers/scorecard", { params: { query } })) as Schemas["Scorecard"],
  });
  const download = (format: "csv" | "xlsx") => {
    const params = new URLSearchParams({ by, format });
    if (from) params.set("from", from);
    if (to) params.set("to", to);
    if (blocks.digits) params.set("digits", String(blocks.digits));
    if (blocks.prefix) params.set("prefix", blocks.prefix);
    return `/api/v1/providers/scorecard?${params}`;
  };
  const option = useMemo(
    () => successRateByMonth(card.data?.months ?? [], (id) => providers.find((p) => p.id === id)?.code ?? String(id), f, t("allProviders")),
    [card.data, providers, f, t],
  );
  const c = card.data;
  const money = (v: number | null | undefined) => f.decimal(v);
  return (
    <>
      <Paper withBorder p="md" mb="md" aria-label={t("scorecard")}>
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <div>
            <Text size="sm">{t("rowsPer")}</Text>
            <SegmentedControl
              aria-label={t("rowsPer")}
              orientation={phone ? "vertical" : "horizontal"}
              fullWidth={phone}
              value={by}
              onChange={(v) => setBy(v as By)}
              data={[
                { value: "provider", label: t("provider") },
                { value: "month", label: t("month") },
                { value: "geo", label: t("geo") },
                { value: "batch", label: t("batch") },
                { value: "block", label: t("block") },
              ]}
            />
          </div>
          <DateInput label={t("fromDay")} valueFormat="ll" clearable value={from} onChange={setFrom} maxDate={to ?? undefined} />
          <DateInput label={t("toDay")} valueFormat="ll" clearable value={to} onChange={setTo} minDate={from ?? undefined} />
        </SimpleGrid>
        {by === "block" && (
          <SimpleGrid cols={{ base: 1, sm: 3 }} mt="sm">
            <NumberInput label={t("blockDigits")} min={1} max={6} value={digits} onChange={(v) => setDigits(Number(v) || 4)} />
            <TextInput label={t("blockPrefix")} placeholder="+7 701" value={prefix} onChange={(e) => setPrefix(e.currentTarget.value)} />
          </SimpleGrid>
        )}
        <Text size="sm" mt="sm">
          <a href={download("csv")}>CSV</a> <a href={download("xlsx")}>XLSX</a>
        </Text>
      </Paper>
      <ErrorText error={card.error} />
      {c && (
        <>
          <h3>{t("successByMonth")}</h3>
          {c.months.length === 0 ? (
            <Text c="dimmed">{t("scorecardEmpty")}</Text>
          ) : (
            <Suspense fallback={null}>
              <Chart option={option} label={t("successByMonth")} testId="scorecard-chart" />
            </Suspense>
          )}
          <DataTable<Row>
            label={t("scorecard")}
            rows={[...c.rows, c.tenant]}
            rowKey={(r) => `${r.provider_id ?? "all"}-${r.key ?? ""}`}
            empty={t("scorecardEmpty")}
            columns={[
              { key: "provider", title: t("provider"), render: (r) => r.provider },
              ...(by === "provider" ? [] : [{ key: "label", title: t(by), render: (r: Row) => r.label ?? "–" }]),
              { key: "delivered", title: t("delivered"), numeric: true, render: (r) => r.delivered ?? "–" },
              { key: "valid_rate", title: t("validRate"), numeric: true, render: (r) => f.percent(r.valid_rate) },
              { key: "duplicates", title: t("duplicates"), numeric: true, render: (r) => (r.duplicate_in_file == null ? "–" : r.duplicate_in_file + (r.duplicate_existing ?? 0)) },
              { key: "dnc", title: t("dnc"), numeric: true, render: (r) => r.dnc ?? "–" },
              { key: "returned", title: t("returned"), numeric: true, render: (r) => r.returned ?? "–" },
              { key: "allocated", title: t("allocated"), numeric: true, render: (r) => r.allocated ?? "–" },
              { key: "contact_rate", title: t("contactRate"), numeric: true, render: (r) => f.percent(r.contact_rate) },
              { key: "success_rate", title: t("successRate"), numeric: true, render: (r) => f.percent(r.success_rate) },
              { key: "attempts", title: t("attemptsPerSuccess"), numeric: true, render: (r) => f.decimal(r.attempts_per_success) },
              { key: "median_attempts", title: t("medianAttempts"), numeric: true, render: (r) => f.decimal(r.median_attempts) },
              { key: "hours", title: t("hoursToSuccess"), numeric: true, render: (r) => f.decimal(r.hours_to_success) },
              { key: "median_hours", title: t("medianHours"), numeric: true, render: (r) => f.decimal(r.median_hours_to_success) },
              { key: "cost", title: t("cost"), numeric: true, render: (r) => money(r.cost) },
              { key: "cost_per_success", title: t("costPerSuccess"), numeric: true, render: (r) => money(r.cost_per_success) },
              { key: "vs_average", title: t("vsAverage"), numeric: true, render: (r) => (r.vs_average == null ? "–" : `${f.decimal(r.vs_average)}×`) },
              { key: "trend", title: t("trend"), numeric: true, render: (r) => (r.trend == null ? "–" : `${r.trend > 0 ? "+" : ""}${f.decimal(r.trend)} pp`) },
            ]}
          />
        </>
      )}
    </>
  );
}

function Returns() {
  const { t, locale } = useI18n();
  const f = useFormat();
  const queryClient = useQueryClient();
  const [provider, setProvider] = useState<string | null>(null);
  const [preview, setPreview] = useState<Schemas["ReturnSummary"] | null>(null);
  const id = provider ? Number(provider) : null;
  const rules = useQuery({
    queryKey: ["return-rules", id],
    enabled: id !== null,
    queryFn: async () => unwrap(await api.GET("/api/v1/providers/{id}/returns", { params: { path: { id: id! } } })),
  });
  const list = useQuery({ queryKey: ["returns"], queryFn: async () => unwrap(await api.GET("/api/v1/returns")) });
  const { providers } = useCatalog();
  const statusLabel = useStatusLabel();
  const providerName = (pid: number) => providers.find((p) => p.id === pid)?.code ?? String(pid);
  const isRefusal = (reason: string): reason is (typeof REFUSALS)[number] => (REFUSALS as readonly string[]).includes(reason);
  const reasonLabel = (reason: string) => (isRefusal(reason) ? t(`reason.${reason}`) : statusLabel(reason));
  async function saveRules(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const statuses = String(form.get("statuses") ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    try {
      const refused = form.getAll("refused").map(String);
      const body = { rules: { window_days: Number(form.get("window_days")), statuses, refused } };
      unwrap(await api.PUT("/api/v1/providers/{id}/returns", { params: { path: { id: id! } }, body }));
      notifyDone(t("saved"));
      await queryClient.invalidateQueries({ queryKey: ["return-rules", id] });
    } catch (err) {
      notifyFailed(err, locale);
    }
  }
  async function run(dryRun: boolean, format: "csv" | "xlsx") {
    try {
      const done = unwrap(await api.POST("/api/v1/returns", { body: { provider_id: id!, dry_run: dryRun, format } }));
      if (dryRun) {
        setPreview(done);
      } else {
        setPreview(null);
        notifyDone(t("returnedSummary", { numbers: done.numbers, credit: f.decimal(done.credit) }));
        await queryClient.invalidateQueries({ queryKey: ["returns"] });
      }
    } catch (err) {
      notifyFailed(err, locale);
    }
  }
  const current = rules.data?.rules;
  return (
    <>
      <Paper withBorder p="md" mb="md">
        <ProviderSelect label={t("provider")} value={provider} onChange={(v) => (setProvider(v), setPreview(null))} />
        {id !== null && rules.data && (
          <form key={id} onSubmit={saveRules} aria-label={t("returnRules")}>
            <Text size="sm" mt="sm">
              {current ? t("returnRulesNow", { days: current.window_days, statuses: (current.statuses ?? []).map(statusLabel).join(", ") || "–" }) : t("noReturns")}
              {current?.refused?.length ? ` ${t("returnRefusedNow", { reasons: current.refused.map(reasonLabel).join(", ") })}` : ""}
            </Text>
            <SimpleGrid cols={{ base: 1, sm: 2 }} mt="sm">
              <NumberInput name="window_days" label={t("returnWindowDays")} min={1} max={365} defaultValue={current?.window_days ?? 14} required />
              <TextInput name="statuses" label={t("returnStatuses")} description={t("returnStatusesHelp")} defaultValue={(current?.statuses ?? ["invalid"]).join(", ")} />
            </SimpleGrid>
            <Checkbox.Group label={t("returnRefused")} description={t("returnRefusedHelp")} defaultValue={current?.refused ?? []} mt="sm">
              {REFUSALS.map((r) => (
                <Checkbox key={r} name="refused" value={r} label={t(`reason.${r}`)} mt={4} />
              ))}
            </Checkbox.Group>
            <Button type="submit" mt="sm" variant="default">
              {t("save")}
            </Button>
          </form>
        )}
        {id !== null && current && (
          <Button.Group mt="md">
            <Button variant="default" onClick={() => run(true, "csv")}>
              {t("previewReturn")}
            </Button>
            <Button onClick={() => run(false, "csv")}>{t("returnAsCsv")}</Button>
            <Button onClick={() => run(false, "xlsx")}>{t("returnAsXlsx")}</Button>
          </Button.Group>
        )}
        {preview && (
          <Text size="sm" mt="sm" data-testid="return-preview">
            {t("wouldReturn", { numbers: preview.numbers, credit: f.decimal(preview.credit) })}{" "}
            {Object.entries(preview.by_reason)
              .map(([reason, n]) => `${reasonLabel(reason)}: ${n}`)
              .join(", ")}
          </Text>
        )}
      </Paper>
      <h3>{t("returnBatches")}</h3>
      <ErrorText error={list.error} />
      <DataTable
        label={t("returnBatches")}
        rows={list.data}
        rowKey={(r) => r.id}
        columns={[
          { key: "id", title: "#", render: (r) => r.id },
          { key: "provider", title: t("provider"), render: (r) => providerName(r.provider_id) },
          { key: "created_at", title: t("created"), render: (r) => f.dateTime(r.created_at) },
          { key: "numbers", title: t("numbers"), numeric: true, render: (r) => r.numbers },
          { key: "credit", title: t("credit"), numeric: true, render: (r) => f.decimal(r.credit) },
          { key: "file", title: t("file"), render: (r) => r.file_path.split("/").pop() },
        ]}
      />
    </>
  );
}
