// Compliance: erase numbers (tombstones keep them out), look one up (everything held,
// its tombstone, lifting it), retention windows with the next drop, the do-not-call
// lists' ages, and a project's compliance report with CSV and XLSX downloads.
import { useState, type FormEvent } from "react";
import { Badge, Button, Checkbox, NumberInput, Paper, SimpleGrid, Tabs, Text, TextInput, Textarea } from "@mantine/core";
import { DateInput } from "@mantine/dates";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api/client";
import { DataTable, ErrorText } from "../components/ui";
import { confirmAction, notifyDone, notifyFailed } from "../components/feedback";
import { KeyValues } from "../components/KeyValues";
import { useProjects } from "../lib/catalog";
import { useFormat } from "../lib/format";
import { useI18n } from "../lib/i18n";

export function CompliancePage() {
  const { t } = useI18n();
  return (
    <>
      <h2>{t("compliance")}</h2>
      <Tabs defaultValue="erase" keepMounted={false}>
        <Tabs.List mb="md">
          <Tabs.Tab value="erase">{t("erasures")}</Tabs.Tab>
          <Tabs.Tab value="lookup">{t("lookUpNumber")}</Tabs.Tab>
          <Tabs.Tab value="retention">{t("retention")}</Tabs.Tab>
          <Tabs.Tab value="dnc">{t("dncLists")}</Tabs.Tab>
          <Tabs.Tab value="report">{t("complianceReport")}</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="erase">
          <Erasures />
        </Tabs.Panel>
        <Tabs.Panel value="lookup">
          <LookUp />
        </Tabs.Panel>
        <Tabs.Panel value="retention">
          <Retention />
        </Tabs.Panel>
        <Tabs.Panel value="dnc">
          <DncLists />
        </Tabs.Panel>
        <Tabs.Panel value="report">
          <Report />
        </Tabs.Panel>
      </Tabs>
    </>
  );
}

function Erasures() {
  const { t, locale } = useI18n();
  const f = useFormat();
  const queryClient = useQueryClient();
  const [requestedAt, setRequestedAt] = useState<string | null>(null);
  const list = useQuery({ queryKey: ["erasures"], queryFn: async () => unwrap(await api.GET("/api/v1/erasures")) });
  async function erase(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const target = e.currentTarget;
    const form = new FormData(target);
    const phones = String(form.get("phones") ?? "")
      .split(/[\n,;]+/)
      .map((p) => p.trim())
      .filter(Boolean);
    if (!(await confirmAction({ title: t("eraseNumbers"), body: t("confirmErase", { count: phones.length }), confirm: t("eraseNumbers"), cancel: t("cancel"), danger: true }))) return;
    try {
      const body = { phones, reason: String(form.get("reason") || "") || null, requested_at: requestedAt ? new Date(`${requestedAt}T00:00:00`).toISOString() : null };
      const done = unwrap(await api.POST("/api/v1/erasures", { body }));
      notifyDone(t("erasedSummary", { found: done.found, numbers: done.numbers, withdrawn: done.exports_withdrawn }));
      target.reset();
      setRequestedAt(null);
      await queryClient.invalidateQueries({ queryKey: ["erasures"] });
    } catch (err) {
      notifyFailed(err, locale);
    }
  }
  return (
    <>
      <Paper component="form" withBorder p="md" mb="md" aria-label={t("eraseNumbers")} onSubmit={erase}>
        <Text size="sm" mb="sm">
          {t("eraseHelp")}
        </Text>
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <Textarea name="phones" label={t("numbersToErase")} required autosize minRows={3} placeholder="+79161234567" />
          <TextInput name="reason" label={t("reason")} placeholder="at the subject's request" />
          <DateInput label={t("requestedAt")} clearable valueFormat="ll" value={requestedAt} onChange={setRequestedAt} maxDate={new Date().toISOString().slice(0, 10)} />
        </SimpleGrid>
        <Button type="submit" color="red.9" mt="sm">
          {t("eraseNumbers")}
        </Button>
      </Paper>
      <ErrorText error={list.error} />
      <DataTable
        label={t("erasures")}
        loading={list.isLoading}
        rows={list.data}
        rowKey={(e) => e.id}
        columns={[
          { key: "finished_at", title: t("erased"), render: (e) => f.dateTime(e.finished_at) },
          { key: "requested_at", title: t("requestedAt"), render: (e) => f.dateTime(e.requested_at) },
          { key: "reason", title: t("reason"), render: (e) => e.reason },
          { key: "actor", title: t("actor"), render: (e) => e.actor },
          { key: "numbers", title: t("numbersToErase"), numeric: true, render: (e) => e.numbers },
          { key: "found", title: t("found"), numeric: true, render: (e) => e.found },
          { key: "withdrawn", title: t("exportsWithdrawn"), numeric: true, render: (e) => e.exports_withdrawn },
          { key: "lifted", title: t("lifted"), numeric: true, render: (e) => e.lifted },
        ]}
      />
    </>
  );
}

function LookUp() {
  const { t, locale } = useI18n();
  const f = useFormat();
  const [phone, setPhone] = useState("");
  const [subject, setSubject] = useState<Schemas["SubjectReport"] | null>(null);
  const [tombstone, setTombstone] = useState<Schemas["TombstoneState"] | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  async function look(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setError(null);
    try {
      const path = { phone: phone.trim() };
      setSubject(unwrap(await api.GET("/api/v1/subjects/{phone}", { params: { path } })));
      const stone = await api.GET("/api/v1/tombstones/{phone}", { params: { path } });
      setTombstone(stone.response.status === 404 ? null : unwrap(stone));
    } catch (err) {
      setError(err);
    }
  }
  function download() {
    if (!subject) return;
    const url = URL.createObjectURL(new Blob([JSON.stringify(subject, null, 2)], { type: "application/json" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `subject-${subject.phone.replace("+", "")}.json`;
    link.click();
    URL.revokeObjectURL(url);
  }
  async function lift(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const reason = String(new FormData(e.currentTarget).get("reason") ?? "");
    try {
      setTombstone(unwrap(await api.POST("/api/v1/tombstones/lift", { body: { phone: phone.trim(), reason } })));
      notifyDone(t("tombstoneLifted"));
    } catch (err) {
      notifyFailed(err, locale);
    }
  }
  return (
    <>
      <Paper component="form" withBorder p="md" mb="md" aria-label={t("lookUpNumber")} onSubmit={look}>
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput label={t("phone")} required value={phone} onChange={(e) => setPhone(e.currentTarget.value)} placeholder="+79161234567" />
        </SimpleGrid>
        <Button type="submit" mt="sm">
          {t("lookUpNumber")}
        </Button>
      </Paper>
      <ErrorText error={error} />
      {tombstone !== undefined && (
        <Paper withBorder p="md" mb="md" aria-label={t("tombstone")}>
          <Text fw={600}>{t("tombstone")}</Text>
          {tombstone === null ? (
            <Text size="sm">{t("noTombstone")}</Text>
          ) : (
            <>
              <Text size="sm">{t("erasedOn", { day: f.dateTime(tombstone.erased_at), reason: tombstone.reason })}</Text>
              {tombstone.lifted_at ? (
                <Text size="sm">{t("liftedOn", { day: f.dateTime(tombstone.lifted_at), reason: tombstone.lift_reason ?? "" })}</Text>
              ) : (
                <form onSubmit={lift} aria-label={t("liftTombstone")}>
                  <TextInput name="reason" label={t("liftReason")} required mt="xs" />
                  <Button type="submit" mt="xs" variant="light">
                    {t("liftTombstone")}
                  </Button>
                </form>
              )}
            </>
          )}
        </Paper>
      )}
      {subject && (
        <Paper withBorder p="md" aria-label={t("subjectAccess")}>
          <Button variant="light" onClick={download} mb="sm">
            {t("subjectAccess")}
          </Button>
          <KeyValues
            value={{
              phone: subject.phone,
              provider: subject.number?.provider ?? "–",
              status: subject.number?.status ?? "–",
              events: subject.events.length,
              calls: subject.calls.length,
              exports: subject.exports.length,
              projects: subject.projects.map((p) => p.name).join(", ") || "–",
            }}
          />
          {subject.number && <KeyValues value={subject.number.attributes as Record<string, unknown>} />}
        </Paper>
      )}
    </>
  );
}

function Retention() {
  const { t, locale } = useI18n();
  const f = useFormat();
  const queryClient = useQueryClient();
  const overview = useQuery({ queryKey: ["retention"], queryFn: async () => unwrap(await api.GET("/api/v1/retention")) });
  const settings = overview.data?.settings;
  const months = (v: number | null | undefined) => (v ? `${f.number(v)}` : t("keptForever"));
  async function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const number = (name: string) => (form.get(name) ? Number(form.get(name)) : null);
    try {
      const body = {
        events_months: number("events_months"),
        audit_months: number("audit_months"),
        outcomes_months: number("outcomes_months"),
        export_files_days: number("export_files_days"),
        archive_parquet: form.get("archive_parquet") === "on",
      };
      queryClient.setQueryData(["retention"], unwrap(await api.PUT("/api/v1/retention", { body })));
      notifyDone(t("retentionSaved"));
    } catch (err) {
      notifyFailed(err, locale);
    }
  }
  return (
    <>
      <ErrorText error={overview.error} />
      {settings && (
        <Paper component="form" withBorder p="md" mb="md" aria-label={t("retention")} onSubmit={save} key={JSON.stringify(settings)}>
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
            <NumberInput name="events_months" label={t("eventsMonths")} min={1} max={1200} defaultValue={settings.events_months ?? ""} placeholder={t("keptForever")} />
            <NumberInput name="audit_months" label={t("auditMonths")} min={12} max={1200} defaultValue={settings.audit_months ?? ""} placeholder={t("keptForever")} />
            <NumberInput name="outcomes_months" label={t("outcomesMonths")} min={1} max={1200} defaultValue={settings.outcomes_months ?? ""} placeholder={t("keptForever")} />
            <NumberInput name="export_files_days" label={t("exportFilesDays")} min={1} max={3650} defaultValue={settings.export_files_days ?? ""} />
          </SimpleGrid>
          <Checkbox name="archive_parquet" label={t("archiveParquet")} defaultChecked={settings.archive_parquet} mt="sm" />
          <Button type="submit" mt="sm">
            {t("save")}
          </Button>
        </Paper>
      )}
      <DataTable
        label={t("retention")}
        loading={overview.isLoading}
        rows={overview.data?.logs}
        rowKey={(l) => l.table}
        columns={[
          { key: "table", title: t("logTable"), render: (l) => l.table },
          { key: "months", title: t("keptMonths"), render: (l) => months(l.months) },
          { key: "effective", title: t("appliesMonths"), render: (l) => months(l.effective_months) },
          { key: "held", title: t("monthsHeld"), numeric: true, render: (l) => l.months_held.length },
          {
            key: "next",
            title: t("nextDrop"),
            render: (l) => (l.next_drop ? t("nextDropOn", { month: l.next_drop.month.slice(0, 7), day: f.day(l.next_drop.on) }) : "–"),
          },
        ]}
      />
      <h3>{t("droppedPartitions")}</h3>
      <DataTable
        label={t("droppedPartitions")}
        rows={overview.data?.dropped}
        rowKey={(d) => d.partition}
        columns={[
          { key: "partition", title: t("logTable"), render: (d) => d.partition },
          { key: "rows", title: t("rows"), numeric: true, render: (d) => d.rows },
          { key: "dropped_at", title: t("erased"), render: (d) => f.dateTime(d.dropped_at) },
        ]}
      />
    </>
  );
}

function DncLists() {
  const { t, locale } = useI18n();
  const f = useFormat();
  const queryClient = useQueryClient();
  const lists = useQuery({ queryKey: ["dnc-lists"], queryFn: async () => unwrap(await api.GET("/api/v1/dnc/lists")) });
  async function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const target = e.currentTarget;
    const form = new FormData(target);
    try {
      const body = {
        name: String(form.get("name")),
        country: String(form.get("country") || "") || null,
        max_age_days: form.get("max_age_days") ? Number(form.get("max_age_days")) : null,
        block_when_stale: form.get("block_when_stale") === "on",
      };
      unwrap(await api.PUT("/api/v1/dnc/lists", { body }));
      notifyDone(t("listSaved"));
      target.reset();
      await queryClient.invalidateQueries({ queryKey: ["dnc-lists"] });
    } catch (err) {
      notifyFailed(err, locale);
    }
  }
  return (
    <>
      <Paper component="form" withBorder p="md" mb="md" aria-label={t("saveList")} onSubmit={save}>
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
          <TextInput name="name" label={t("listName")} required placeholder="US national registry" />
          <TextInput name="country" label={t("country")} maxLength={2} placeholder="US" />
          <NumberInput name="max_age_days" label={t("maxAgeDays")} min={1} max={3650} placeholder="31" />
          <Checkbox name="block_when_stale" label={t("blockWhenStale")} mt="lg" />
        </SimpleGrid>
        <Button type="submit" mt="sm">
          {t("saveList")}
        </Button>
      </Paper>
      <ErrorText error={lists.error} />
      <DataTable
        label={t("dncLists")}
        loading={lists.isLoading}
        rows={lists.data}
        rowKey={(l) => l.id}
        columns={[
          { key: "name", title: t("listName"), render: (l) => l.name },
          { key: "country", title: t("country"), render: (l) => l.country ?? t("allCountries") },
          { key: "loaded_at", title: t("loadedAt"), render: (l) => (l.loaded_at ? f.dateTime(l.loaded_at) : t("neverLoaded")) },
          { key: "entries", title: t("rows"), numeric: true, render: (l) => l.loaded_entries },
          { key: "max_age", title: t("maxAgeDays"), numeric: true, render: (l) => l.max_age_days ?? "–" },
          {
            key: "state",
            title: t("status"),
            render: (l) => (l.stale ? <Badge color={l.block_when_stale ? "red" : "orange"}>{t("stale")}</Badge> : <Badge color="teal">{t("fresh")}</Badge>),
          },
        ]}
      />
    </>
  );
}

function Report() {
  const { t } = useI18n();
  const f = useFormat();
  const projects = useProjects();
  const [project, setProject] = useState<string>("");
  // The last 30 days by default, as the API's own default.
  const [from, setFrom] = useState<string | null>(() => new Date(Date.now() - 29 * 86_400_000).toISOString().slice(0, 10));
  const [to, setTo] = useState<string | null>(() => new Date().toISOString().slice(0, 10));
  const [shown, setShown] = useState<{ project: string; from: string; to: string } | null>(null);
  const report = useQuery({
    queryKey: ["compliance-report", shown],
    enabled: !!shown,
    queryFn: async () =>
      // Without `format` the answer is the JSON report (CSV and XLSX are the download links).
      unwrap(await api.GET("/api/v1/projects/{id}/compliance", { params: { path: { id: Number(shown!.project) }, query: { from: shown!.from, to: shown!.to } } })) as Schemas["ComplianceReport"],
  });
  const download = (format: "csv" | "xlsx") => (shown ? `/api/v1/projects/${shown.project}/compliance?format=${format}&from=${shown.from}&to=${shown.to}` : "#");
  const r = report.data;
  const hours = (counts: number[]) => counts.map((count, hour) => ({ hour: String(hour).padStart(2, "0"), count }));
  return (
    <>
      <Paper
        component="form"
        withBorder
        p="md"
        mb="md"
        aria-label={t("complianceReport")}
        onSubmit={(e) => {
          e.preventDefault();
          if (project && from && to) setShown({ project, from, to });
        }}
      >
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <label>
            {t("project")}
            <select value={project} required onChange={(e) => setProject(e.target.value)}>
              <option value="">–</option>
              {projects.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          </label>
          <DateInput label={t("fromDay")} valueFormat="ll" value={from} onChange={setFrom} maxDate={to ?? undefined} />
          <DateInput label={t("toDay")} valueFormat="ll" value={to} onChange={setTo} minDate={from ?? undefined} />
        </SimpleGrid>
        <Button type="submit" mt="sm">
          {t("showReport")}
        </Button>
        {shown && (
          <Text size="sm" mt="sm">
            <a href={download("csv")}>CSV</a> <a href={download("xlsx")}>XLSX</a>
          </Text>
        )}
      </Paper>
      <ErrorText error={report.error} />
      {r && (
        <>
          <SimpleGrid cols={{ base: 2, sm: 4 }} mb="md" aria-label={t("complianceReport")}>
            <Figure label={t("callsOutsideHours")} value={f.number(r.calls_outside_hours)} alert={r.calls_outside_hours > 0} />
            <Figure label={t("numbersCalled")} value={f.number(r.calls_per_number.numbers)} />
            <Figure label={t("mostCallsIn24h")} value={f.number(r.calls_per_number.most_in_24h)} />
            <Figure label={t("erasureRequests")} value={f.number(r.erasures.requests)} />
          </SimpleGrid>
          <h3>{t("withheldAtGates")}</h3>
          <DataTable
            label={t("withheldAtGates")}
            rows={[
              { gate: t("importsRefusedDnc"), count: r.withheld.imports_dnc },
              { gate: t("importsRefusedErased"), count: r.withheld.imports_erased },
              { gate: t("projectDncNow"), count: r.withheld.project_dnc_now },
              { gate: t("dueNow"), count: r.withheld.now.due },
              { gate: t("dueOutsideHours"), count: r.withheld.now.outside_calling_hours },
              { gate: t("dueAtCap"), count: r.withheld.now.at_daily_cap },
              { gate: t("dueStaleList"), count: r.withheld.now.dnc_list_stale },
            ]}
            rowKey={(g) => g.gate}
            columns={[
              { key: "gate", title: t("gate"), render: (g) => g.gate },
              { key: "count", title: t("numbers"), numeric: true, render: (g) => g.count },
            ]}
          />
          <h3>{t("callsOutsideHours")}</h3>
          <DataTable
            label={t("callsOutsideHours")}
            rows={r.flagged_calls}
            rowKey={(c) => c.call_id}
            columns={[
              { key: "call_id", title: t("callId"), render: (c) => c.call_id },
              { key: "phone", title: t("phone"), render: (c) => c.phone ?? t("erased") },
              { key: "zone", title: t("zone"), render: (c) => c.zone },
              { key: "local", title: t("localTime"), render: (c) => c.local_time },
              { key: "allowed", title: t("allowedHours"), render: (c) => `${c.allowed_from}–${c.allowed_until}` },
            ]}
          />
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <div>
              <h3>{t("leasesByLocalHour")}</h3>
              <DataTable label={t("leasesByLocalHour")} rows={hours(r.leases_by_local_hour)} rowKey={(h) => h.hour} columns={hourColumns(t("localHour"), t("rows"))} />
            </div>
            <div>
              <h3>{t("callsByLocalHour")}</h3>
              <DataTable label={t("callsByLocalHour")} rows={hours(r.calls_by_local_hour)} rowKey={(h) => h.hour} columns={hourColumns(t("localHour"), t("rows"))} />
            </div>
          </SimpleGrid>
          <h3>{t("erasureRequests")}</h3>
          <KeyValues
            value={{
              [t("erasureRequests")]: f.number(r.erasures.requests),
              [t("numbersToErase")]: f.number(r.erasures.numbers),
              [t("found")]: f.number(r.erasures.found),
              [t("averageHours")]: f.decimal(r.erasures.average_hours),
              [t("slowestHours")]: f.decimal(r.erasures.slowest_hours),
            }}
          />
          <Text size="xs" c="dimmed" mt="sm">
            {r.project} · {f.day(r.from)} – {f.day(r.to)} · {r.time_zone}
          </Text>
        </>
      )}
    </>
  );
}

function hourColumns(hour: string, count: string) {
  return [
    { key: "hour", title: hour, render: (h: { hour: string; count: number }) => h.hour },
    { key: "count", title: count, numeric: true, render: (h: { hour: string; count: number }) => h.count },
  ];
}

function Figure({ label, value, alert }: { label: string; value: string; alert?: boolean }) {
  return (
    <Paper withBorder p="sm">
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="xl" c={alert ? "red" : undefined}>
        {value}
      </Text>
    </Paper>
  );
}
