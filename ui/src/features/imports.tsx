// Imports: drag-and-drop upload with a progress bar, live progress of running imports
// over Server-Sent Events, and the history with counts and rejects.
import { useCallback, useEffect, useRef, useState, type DragEvent, type FormEvent } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "react-router-dom";
import { api, unwrap, uploadImport, type Schemas } from "../api/client";
import { DataTable, ErrorText } from "../components/ui";
import { formatBytes, formatDate, percent } from "../lib/format";
import { useI18n } from "../lib/i18n";
import { readListState } from "../lib/listState";
import { useCatalog } from "../lib/catalog";

type Task = Schemas["ImportTaskView"];

export function ImportsPage() {
  const { t } = useI18n();
  const [started, setStarted] = useState<Task[]>([]);
  const queryClient = useQueryClient();
  // Imports running on any server, looked at again every few seconds so one started
  // elsewhere shows up; finished ones leave this list for the history below.
  const running = useQuery({
    queryKey: ["import-tasks"],
    queryFn: async () => unwrap(await api.GET("/api/v1/imports/tasks")),
    refetchInterval: 5000,
  });
  // Tasks started here first, then those the server knows of (started elsewhere or before).
  const tasks = [
    ...started,
    ...(running.data ?? []).filter((r) => r.status === "running" && !started.some((s) => s.task_id === r.task_id)),
  ];
  const onFinished = useCallback(
    (taskId: string) => {
      void queryClient.invalidateQueries({ queryKey: ["imports"] });
      void queryClient.invalidateQueries({ queryKey: ["import-tasks"] });
      // The finished task says how it ended for a moment, then the history has it.
      setTimeout(() => setStarted((list) => list.filter((s) => s.task_id !== taskId)), 8000);
    },
    [queryClient],
  );
  return (
    <>
      <h2>{t("imports")}</h2>
      <UploadForm onStarted={(task) => setStarted((list) => [task, ...list])} />
      {tasks.length > 0 && (
        <section className="panel" aria-label={t("runningImports")}>
          <h3>{t("runningImports")}</h3>
          {tasks.map((task) => (
            <TaskProgress key={task.task_id} initial={task} onFinished={onFinished} />
          ))}
        </section>
      )}
      <History />
    </>
  );
}

function UploadForm({ onStarted }: { onStarted: (task: Task) => void }) {
  const { t } = useI18n();
  const [file, setFile] = useState<File | null>(null);
  const [over, setOver] = useState(false);
  const [sent, setSent] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const input = useRef<HTMLInputElement>(null);
  const { providers } = useCatalog();
  function drop(e: DragEvent) {
    e.preventDefault();
    setOver(false);
    if (e.dataTransfer.files[0]) setFile(e.dataTransfer.files[0]);
  }
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (!file) return;
    const form = new FormData(e.currentTarget);
    form.delete("file");
    form.append("file", file, file.name);
    setError(null);
    setSent(0);
    try {
      const task = await uploadImport(form, (loaded, total) => setSent(percent(loaded, total)));
      onStarted(task);
      setFile(null);
    } catch (err) {
      setError(err);
    } finally {
      setSent(null);
    }
  }
  return (
    <form className="panel form" onSubmit={submit} aria-label="upload">
      <div className="grid">
        <label>
          {t("provider")}
          <select name="provider_id" required>
            {providers.map((p) => (
              <option key={p.id} value={p.id}>
                {p.code} — {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("onDuplicate")}
          <select name="on_duplicate">
            <option value="skip">{t("skip")}</option>
            <option value="update">{t("update")}</option>
          </select>
        </label>
      </div>
      <div
        className={over ? "drop over" : "drop"}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
        onClick={() => input.current?.click()}
      >
        {file ? `${file.name} (${formatBytes(file.size)})` : t("dropFile")}
        <input
          ref={input}
          type="file"
          name="file"
          aria-label={t("file")}
          hidden
          accept=".csv,.tsv,.txt,.xlsx,.xls"
          onChange={(e) => setFile(e.target.files?.[0] ?? null)}
        />
      </div>
      {sent !== null && (
        <label>
          {t("uploading")} {sent}%
          <progress max={100} value={sent} />
        </label>
      )}
      <div>
        <button className="primary" type="submit" disabled={!file || sent !== null}>
          {t("upload")}
        </button>
      </div>
      <ErrorText error={error} />
    </form>
  );
}

/** Follows one task's event stream until its `done` event. */
function TaskProgress({ initial, onFinished }: { initial: Task; onFinished: (taskId: string) => void }) {
  const { t } = useI18n();
  const [task, setTask] = useState(initial);
  useEffect(() => {
    if (initial.status !== "running") {
      onFinished(initial.task_id);
      return;
    }
    const source = new EventSource(`/api/v1/imports/tasks/${initial.task_id}/events`);
    source.addEventListener("progress", (e) => setTask(JSON.parse((e as MessageEvent).data)));
    source.addEventListener("done", (e) => {
      setTask(JSON.parse((e as MessageEvent).data));
      source.close();
      onFinished(initial.task_id);
    });
    source.onerror = () => source.close();
    return () => source.close();
  }, [initial.task_id, initial.status, onFinished]);
  const done = task.status !== "running";
  return (
    <div data-testid="import-task" data-status={task.status}>
      <strong>{task.file_name}</strong> · {task.provider_code} · {task.rows_read} {t("rows")}
      {!done && <progress max={100} value={percent(task.bytes_read, task.bytes_total)} />}
      {task.status === "succeeded" && <span className="ok"> — {t("importDone")} (#{task.import_id})</span>}
      {task.status === "failed" && <span className="error"> — {t("importFailed")}: {task.error}</span>}
    </div>
  );
}

function History() {
  const { t, label, locale } = useI18n();
  const [params] = useSearchParams();
  const state = readListState(params);
  const list = useQuery({
    queryKey: ["imports", params.toString()],
    queryFn: async () => unwrap(await api.GET("/api/v1/imports", { params: { query: { cursor: state.cursor, sort: state.sort } } })),
  });
  return (
    <section>
      <h3>{t("history")}</h3>
      <ErrorText error={list.error} />
      <DataTable
        label={t("history")}
        loading={list.isLoading}
        rows={list.data?.items}
        nextCursor={list.data?.next_cursor}
        rowKey={(i) => i.id}
        columns={[
          { key: "id", title: "#", sortable: true, render: (i) => i.id },
          { key: "file", title: t("file"), render: (i) => i.file_name },
          { key: "provider", title: t("provider"), render: (i) => i.provider_code },
          { key: "status", title: t("status"), render: (i) => (i.status === "failed" ? <span className="error" title={i.error ?? ""}>{label("taskStatus", i.status)}</span> : label("taskStatus", i.status)) },
          { key: "total", title: t("total"), numeric: true, render: (i) => i.total },
          { key: "inserted", title: t("inserted"), numeric: true, render: (i) => i.inserted },
          { key: "dups", title: t("duplicates"), numeric: true, render: (i) => i.duplicate_in_file + i.duplicate_existing },
          { key: "invalid", title: t("invalid"), numeric: true, render: (i) => i.invalid },
          { key: "dnc", title: t("dnc"), numeric: true, render: (i) => i.dnc },
          { key: "erased", title: t("erased"), numeric: true, render: (i) => i.erased },
          { key: "refreshed", title: t("refreshedCount"), numeric: true, render: (i) => i.refreshed },
          { key: "at", title: t("at"), render: (i) => formatDate(i.finished_at, locale) },
          {
            key: "rejects",
            title: t("rejects"),
            render: (i) => (i.has_rejects ? <a href={`/api/v1/imports/${i.id}/rejects`}>{t("download")}</a> : "–"),
          },
        ]}
      />
    </section>
  );
}
