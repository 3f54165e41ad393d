// How the UI tells the user what happened: problem details in their language, toasts for
// done and failed actions, and confirmation dialogs that say what will change.
import { Alert, Text } from "@mantine/core";
import { modals } from "@mantine/modals";
import { notifications } from "@mantine/notifications";
import { IconAlertTriangle, IconCheck } from "@tabler/icons-react";
import type { ReactNode } from "react";
import { ApiProblem } from "../api/client";
import { codeLabel, useI18n, type Locale } from "../lib/i18n";

/** A failure in words: the problem's stable code translated, the field at fault, and the
 * server's own sentence (English) where it says more than the code does. */
export function describeError(error: unknown, locale: Locale): { title: string; detail: string | null } {
  if (error instanceof ApiProblem) {
    const { code, detail, field } = error.problem;
    const title = codeLabel(locale, "problem", code);
    if (!title) return { title: detail, detail: null };
    const where = field ? `${codeLabel(locale, "field", field) ?? field}: ` : "";
    // English readers get the server's precise sentence; others get the translated
    // summary first, with that sentence beneath.
    if (locale === "en") return { title: `${where}${detail}`, detail: null };
    return { title: `${title}${field ? ` (${codeLabel(locale, "field", field) ?? field})` : ""}`, detail };
  }
  if (error instanceof Error) return { title: error.message, detail: null };
  return { title: String(error), detail: null };
}

export function ErrorText({ error }: { error: unknown }) {
  const { locale } = useI18n();
  if (!error) return null;
  const { title, detail } = describeError(error, locale);
  return (
    <Alert color="red" variant="light" role="alert" icon={<IconAlertTriangle size={18} />} my="xs" className="error" title={title}>
      {detail && (
        <Text size="sm" c="dimmed">
          {detail}
        </Text>
      )}
    </Alert>
  );
}

export function notifyDone(message: ReactNode, action?: ReactNode) {
  notifications.show({ color: "teal", icon: <IconCheck size={18} />, message: action ? <>{message} {action}</> : message, autoClose: action ? 10_000 : 4_000 });
}

export function notifyFailed(error: unknown, locale: Locale) {
  const { title, detail } = describeError(error, locale);
  notifications.show({ color: "red", icon: <IconAlertTriangle size={18} />, title, message: detail ?? "", autoClose: 8_000 });
}

/** A confirmation dialog; resolves true when the user confirms. */
export function confirmAction(options: { title: string; body: ReactNode; confirm: string; cancel: string; danger?: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    modals.openConfirmModal({
      title: options.title,
      children: <Text size="sm">{options.body}</Text>,
      labels: { confirm: options.confirm, cancel: options.cancel },
      confirmProps: { color: options.danger ? "red" : undefined },
      onConfirm: () => resolve(true),
      onCancel: () => resolve(false),
      onClose: () => resolve(false),
    });
  });
}
