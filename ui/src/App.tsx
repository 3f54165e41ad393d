import { Suspense, lazy, useEffect, useMemo, useState, type FormEvent, type ReactElement } from "react";
import { ActionIcon, AppShell, Burger, Button, Group, Loader, NativeSelect, Paper, PasswordInput, TextInput, NavLink as MantineNavLink, ScrollArea, Stack, Text, Title, Tooltip, useComputedColorScheme, useMantineColorScheme } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { DatesProvider } from "@mantine/dates";
import "dayjs/locale/ru";
import {
  IconActivity, IconApi, IconCoin, IconUsersGroup, IconBan, IconBook, IconScale, IconBuildingStore, IconChartBar, IconCloudUpload,
  IconFileExport, IconFileImport, IconFlag, IconGauge, IconKey, IconListCheck, IconLogout, IconMapPin, IconMoon, IconPhone, IconPlugConnected,
  IconServer, IconShieldLock, IconSun, IconTags, IconUser, IconUsers, IconWebhook, type Icon,
} from "@tabler/icons-react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { NavLink, Navigate, Route, Routes, useLocation } from "react-router-dom";
import { ErrorBoundary, type FallbackProps } from "react-error-boundary";
import { api, ensureOk, setCsrfToken, unwrap, type Schemas } from "./api/client";
import { ErrorText } from "./components/ui";
import { notifyDone, notifyFailed } from "./components/feedback";
import { I18nContext, LOCALES, codeLabel, storedLocale, translate, useI18n, type Locale, type MessageKey } from "./lib/i18n";
// Each page loads with its first visit, so the shell and the sign-in come down first and
// the charting library only with the pages that chart.
const ScorecardPage = lazy(() => import("./features/scorecard").then((m) => ({ default: m.ScorecardPage })));
const CompliancePage = lazy(() => import("./features/compliance").then((m) => ({ default: m.CompliancePage })));
const AuditPage = lazy(() => import("./features/audit").then((m) => ({ default: m.AuditPage })));
const ImportsPage = lazy(() => import("./features/imports").then((m) => ({ default: m.ImportsPage })));
const ExportsPage = lazy(() => import("./features/exports").then((m) => ({ default: m.ExportsPage })));
const ConversionPage = lazy(() => import("./features/conversion").then((m) => ({ default: m.ConversionPage })));
const DashboardPage = lazy(() => import("./features/dashboard").then((m) => ({ default: m.DashboardPage })));
const JobsPage = lazy(() => import("./features/jobs").then((m) => ({ default: m.JobsPage })));
const PartnersPage = lazy(() => import("./features/partners").then((m) => ({ default: m.PartnersPage })));
const RemotesPage = lazy(() => import("./features/remotes").then((m) => ({ default: m.RemotesPage })));
const DispositionsPage = lazy(() => import("./features/numbers").then((m) => ({ default: m.DispositionsPage })));
const DncPage = lazy(() => import("./features/numbers").then((m) => ({ default: m.DncPage })));
const NumberDetailPage = lazy(() => import("./features/numbers").then((m) => ({ default: m.NumberDetailPage })));
const NumbersPage = lazy(() => import("./features/numbers").then((m) => ({ default: m.NumbersPage })));
const WebhooksPage = lazy(() => import("./features/webhooks").then((m) => ({ default: m.WebhooksPage })));
const DeletedProjectsPage = lazy(() => import("./features/projects").then((m) => ({ default: m.DeletedProjectsPage })));
const ProjectEditor = lazy(() => import("./features/projects").then((m) => ({ default: m.ProjectEditor })));
const ProjectsPage = lazy(() => import("./features/projects").then((m) => ({ default: m.ProjectsPage })));
const GeosPage = lazy(() => import("./features/settings").then((m) => ({ default: m.GeosPage })));
const ProvidersPage = lazy(() => import("./features/settings").then((m) => ({ default: m.ProvidersPage })));
const GroupsPage = lazy(() => import("./features/settings").then((m) => ({ default: m.GroupsPage })));
const StatusesPage = lazy(() => import("./features/settings").then((m) => ({ default: m.StatusesPage })));
const RolesPage = lazy(() => import("./features/users").then((m) => ({ default: m.RolesPage })));
const TokensPage = lazy(() => import("./features/users").then((m) => ({ default: m.TokensPage })));
const UsersPage = lazy(() => import("./features/users").then((m) => ({ default: m.UsersPage })));

type Me = Schemas["Me"];

type Group = "groupWork" | "groupData" | "groupPartners" | "groupSettings" | "groupOperations";

/** Pages in the navigation, by group, each shown to callers holding its permission (or
 * every one of a list). */
const PAGES: { path: string; label: MessageKey; group: Group; icon: Icon; permission: string | string[]; element: (me: Me) => ReactElement }[] = [
  { path: "/today", label: "dashboard", group: "groupWork", icon: IconGauge, permission: "projects.read", element: () => <DashboardPage /> },
  { path: "/projects", label: "projects", group: "groupWork", icon: IconFlag, permission: "projects.read", element: (me) => <ProjectsPage canWrite={allowed(me, "projects.write")} /> },
  {
    path: "/numbers",
    label: "numbers",
    group: "groupWork",
    icon: IconPhone,
    permission: "numbers.read",
    element: (me) => <NumbersPage canWrite={allowed(me, "numbers.write")} canDnc={allowed(me, "dnc.write")} />,
  },
  { path: "/conversion", label: "conversion", group: "groupWork", icon: IconChartBar, permission: "conversion.read", element: () => <ConversionPage /> },
  { path: "/scorecard", label: "scorecard", group: "groupWork", icon: IconCoin, permission: ["conversion.read", "scope.all"], element: (me) => <ScorecardPage canManage={allowed(me, "settings.manage")} /> },
  { path: "/imports", label: "imports", group: "groupData", icon: IconFileImport, permission: "numbers.read", element: () => <ImportsPage /> },
  { path: "/exports", label: "exports", group: "groupData", icon: IconFileExport, permission: "exports.create", element: () => <ExportsPage /> },
  { path: "/dnc", label: "dncList", group: "groupData", icon: IconBan, permission: "numbers.read", element: (me) => <DncPage canWrite={allowed(me, "dnc.write")} /> },
  { path: "/partners", label: "partners", group: "groupPartners", icon: IconCloudUpload, permission: "settings.manage", element: () => <PartnersPage /> },
  { path: "/remotes", label: "remotes", group: "groupPartners", icon: IconServer, permission: "settings.manage", element: () => <RemotesPage /> },
  { path: "/webhooks", label: "webhooks", group: "groupPartners", icon: IconWebhook, permission: "settings.manage", element: () => <WebhooksPage /> },
  { path: "/providers", label: "providers", group: "groupSettings", icon: IconBuildingStore, permission: "numbers.read", element: () => <ProvidersPage /> },
  { path: "/geos", label: "geos", group: "groupSettings", icon: IconMapPin, permission: "numbers.read", element: () => <GeosPage /> },
  { path: "/statuses", label: "statuses", group: "groupSettings", icon: IconTags, permission: "numbers.read", element: () => <StatusesPage /> },
  { path: "/groups", label: "numberGroups", group: "groupSettings", icon: IconUsersGroup, permission: "numbers.read", element: (me) => <GroupsPage canWrite={allowed(me, "settings.manage")} /> },
  { path: "/dispositions", label: "dispositions", group: "groupSettings", icon: IconListCheck, permission: "settings.manage", element: () => <DispositionsPage /> },
  { path: "/users", label: "users", group: "groupSettings", icon: IconUsers, permission: "users.manage", element: () => <UsersPage /> },
  { path: "/roles", label: "roles", group: "groupSettings", icon: IconShieldLock, permission: "users.manage", element: () => <RolesPage /> },
  { path: "/tokens", label: "tokens", group: "groupSettings", icon: IconKey, permission: "tokens.create", element: () => <TokensPage /> },
  { path: "/jobs", label: "jobs", group: "groupOperations", icon: IconActivity, permission: "settings.manage", element: () => <JobsPage /> },
  { path: "/audit", label: "audit", group: "groupOperations", icon: IconBook, permission: "audit.read", element: () => <AuditPage /> },
  { path: "/compliance", label: "compliance", group: "groupOperations", icon: IconScale, permission: "privacy.manage", element: () => <CompliancePage /> },
];

const GROUPS: Group[] = ["groupWork", "groupData", "groupPartners", "groupSettings", "groupOperations"];

/** A code no catalogue knows yet, in words rather than as a code ("sftp_remote.update" → "Sftp remote update"). */
function humanize(code: string) {
  const words = code.replace(/[_.]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** "platform" is the platform administrator; a list needs every permission in it (the
 * scorecard spans the whole tenant, so it also needs `scope.all`). */
function allowed(me: Me, permission: string | string[]): boolean {
  if (Array.isArray(permission)) return permission.every((p) => allowed(me, p));
  return permission === "platform" ? me.is_platform_admin : me.permissions.includes(permission);
}

export function App() {
  const [locale, setLocaleState] = useState<Locale>(storedLocale);
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  const i18n = useMemo(
    () => ({
      locale,
      setLocale: (l: Locale) => {
        localStorage.setItem("dialpool.locale", l);
        setLocaleState(l);
      },
      t: (key: MessageKey, vars?: Record<string, string | number>) => translate(locale, key, vars),
      label: (kind: string, code: string | null | undefined) => (code ? (codeLabel(locale, kind, code) ?? humanize(code)) : "–"),
    }),
    [locale],
  );
  const me = useQuery({
    queryKey: ["me"],
    queryFn: async () => {
      const result = await api.GET("/api/v1/me");
      if (result.response.status === 401) return null;
      const data = unwrap(result);
      setCsrfToken(data.csrf_token);
      return data;
    },
  });
  let body;
  if (me.isLoading) body = <p className="login">{i18n.t("loading")}</p>;
  else if (!me.data) body = <Login />;
  else if (me.data.password_must_change) body = <ChangePassword forced />;
  else body = <Shell me={me.data} />;
  return (
    <I18nContext.Provider value={i18n}>
      <DatesProvider settings={{ locale, firstDayOfWeek: 1 }}>{body}</DatesProvider>
    </I18nContext.Provider>
  );
}

function Login() {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    try {
      const me = unwrap(await api.POST("/api/v1/auth/login", { body: { email: String(form.get("email")), password: String(form.get("password")) } }));
      setCsrfToken(me.csrf_token);
      queryClient.setQueryData(["me"], me);
    } catch (err) {
      setError(err);
    }
  }
  return (
    <main>
      <Paper withBorder shadow="sm" p="xl" radius="md" maw={380} mx="auto" mt="12vh">
        <Title order={1} size="h2" mb="md">
          {t("appName")}
        </Title>
        <form onSubmit={submit}>
          <Stack>
            <TextInput name="email" type="email" label={t("email")} autoComplete="username" required />
            <PasswordInput name="password" label={t("password")} autoComplete="current-password" required visibilityToggleButtonProps={{ "aria-label": t("showPassword") }} />
            <Button type="submit">{t("signIn")}</Button>
            <ErrorText error={error} />
          </Stack>
        </form>
      </Paper>
    </main>
  );
}

function ChangePassword({ forced }: { forced?: boolean }) {
  const { t, locale } = useI18n();
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    try {
      ensureOk(
        await api.POST("/api/v1/me/password", {
          body: { current_password: String(form.get("current")), new_password: String(form.get("new")) },
        }),
      );
      notifyDone(t("saved"));
      await queryClient.invalidateQueries({ queryKey: ["me"] });
    } catch (err) {
      setError(err);
      notifyFailed(err, locale);
    }
  }
  const body = (
    <Paper withBorder p="lg" radius="md" maw={420} mx={forced ? "auto" : undefined} mt={forced ? "12vh" : undefined}>
      <Title order={2} size="h3" mb="sm">
        {t("changePassword")}
      </Title>
      {forced && <Text mb="sm">{t("mustChangePassword")}</Text>}
      <form onSubmit={submit}>
        <Stack>
          <PasswordInput name="current" label={t("currentPassword")} autoComplete="current-password" required visibilityToggleButtonProps={{ "aria-label": t("showPassword") }} />
          <PasswordInput name="new" label={t("newPassword")} autoComplete="new-password" minLength={10} required visibilityToggleButtonProps={{ "aria-label": t("showPassword") }} />
          <Button type="submit">{t("save")}</Button>
          <ErrorText error={error} />
        </Stack>
      </form>
    </Paper>
  );
  return forced ? <main>{body}</main> : body;
}

/** What a page that failed shows instead of itself. */
function PageFailed({ error, resetErrorBoundary }: FallbackProps) {
  const { t } = useI18n();
  return (
    <Paper withBorder p="lg" role="alert" data-testid="page-failed">
      <Title order={2}>{t("pageFailed")}</Title>
      <Text c="red" my="sm">
        {error instanceof Error ? error.message : String(error)}
      </Text>
      <Button onClick={resetErrorBoundary}>{t("retry")}</Button>
    </Paper>
  );
}

function Shell({ me }: { me: Me }) {
  const { t, locale, setLocale } = useI18n();
  const queryClient = useQueryClient();
  const pages = PAGES.filter((p) => allowed(me, p.permission));
  const location = useLocation();
  const [opened, { toggle, close }] = useDisclosure();
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme("light");
  // On a phone the menu is a drawer: choosing a page closes it.
  useEffect(close, [location.pathname, close]);
  async function signOut() {
    await api.POST("/api/v1/auth/logout");
    setCsrfToken(null);
    queryClient.clear();
    queryClient.setQueryData(["me"], null);
  }
  const active = (path: string) => location.pathname === path || location.pathname.startsWith(`${path}/`);
  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 232, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="sm" gap="xs" wrap="nowrap">
          <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={opened ? t("closeMenu") : t("openMenu")} />
          <Title order={1} size="h4" style={{ whiteSpace: "nowrap" }}>
            {t("appName")}
          </Title>
          <div style={{ flex: 1 }} />
          <NativeSelect
            aria-label={t("language")}
            size="xs"
            w={96}
            value={locale}
            onChange={(e) => setLocale(e.currentTarget.value as Locale)}
            data={LOCALES.map((l) => ({ value: l, label: l === "en" ? "English" : "Русский" }))}
          />
          <Tooltip label={scheme === "dark" ? t("switchToLight") : t("switchToDark")}>
            <ActionIcon variant="default" size="lg" aria-label={scheme === "dark" ? t("switchToLight") : t("switchToDark")} onClick={() => setColorScheme(scheme === "dark" ? "light" : "dark")}>
              {scheme === "dark" ? <IconSun size={18} /> : <IconMoon size={18} />}
            </ActionIcon>
          </Tooltip>
          <Tooltip label={t("apiReference")}>
            <ActionIcon component="a" href="/api/docs" target="_blank" rel="noreferrer" variant="default" size="lg" aria-label={t("apiReference")}>
              <IconApi size={18} />
            </ActionIcon>
          </Tooltip>
          <Tooltip label={t("signOut")}>
            <ActionIcon variant="default" size="lg" aria-label={t("signOut")} onClick={signOut}>
              <IconLogout size={18} />
            </ActionIcon>
          </Tooltip>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar aria-label="main" p="xs">
        <AppShell.Section grow component={ScrollArea}>
          <Stack gap={2}>
            {GROUPS.map((group) => {
              const inGroup = pages.filter((p) => p.group === group);
              if (inGroup.length === 0) return null;
              return (
                <div key={group}>
                  <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="sm" pt="sm" pb={4}>
                    {t(group)}
                  </Text>
                  {inGroup.map((p) => (
                    <MantineNavLink key={p.path} component={NavLink} to={p.path} label={t(p.label)} leftSection={<p.icon size={18} stroke={1.6} />} active={active(p.path)} />
                  ))}
                </div>
              );
            })}
          </Stack>
        </AppShell.Section>
        <AppShell.Section pt="xs" style={{ borderTop: "1px solid var(--mantine-color-default-border)" }}>
          <Text size="xs" c="dimmed" px="sm" truncate="end" title={me.email}>
            {me.email}
          </Text>
          <MantineNavLink component={NavLink} to="/account" label={t("changePassword")} leftSection={<IconUser size={18} stroke={1.6} />} active={active("/account")} />
          <MantineNavLink component="a" href="/api/docs" target="_blank" rel="noreferrer" label={t("apiReference")} leftSection={<IconPlugConnected size={18} stroke={1.6} />} />
        </AppShell.Section>
      </AppShell.Navbar>
      <AppShell.Main>
        {/* A page that fails shows what failed and a retry; the menu stays, and moving
            to another page leaves the failure behind. */}
        <ErrorBoundary
          FallbackComponent={PageFailed}
          resetKeys={[location.pathname]}
          onReset={() => queryClient.resetQueries()}
          onError={(error) => console.warn("page failed", error)}
        >
          <Suspense fallback={<Loader size="sm" m="md" aria-label={t("loading")} />}>
          <Routes>
            {pages.map((p) => (
              <Route key={p.path} path={p.path} element={p.element(me)} />
            ))}
            {allowed(me, "projects.read") && <Route path="/projects/deleted" element={<DeletedProjectsPage canWrite={allowed(me, "projects.write")} />} />}
            {allowed(me, "numbers.read") && <Route path="/numbers/:phone" element={<NumberDetailPage />} />}
            {allowed(me, "projects.read") && <Route path="/projects/:id" element={<ProjectEditor canWrite={allowed(me, "projects.write")} />} />}
            <Route path="/account" element={<ChangePassword />} />
            <Route path="*" element={<Navigate to={pages[0]?.path ?? "/account"} replace />} />
          </Routes>
          </Suspense>
        </ErrorBoundary>
      </AppShell.Main>
    </AppShell>
  );
}
