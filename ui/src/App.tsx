import { useEffect, useMemo, useState, type FormEvent, type ReactElement } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { NavLink, Navigate, Route, Routes, useLocation } from "react-router-dom";
import { ErrorBoundary, type FallbackProps } from "react-error-boundary";
import { api, ensureOk, setCsrfToken, unwrap, type Schemas } from "./api/client";
import { ErrorText } from "./components/ui";
import { I18nContext, LOCALES, storedLocale, translate, useI18n, type Locale, type MessageKey } from "./lib/i18n";
import { AuditPage } from "./features/audit";
import { ImportsPage } from "./features/imports";
import { ExportsPage } from "./features/exports";
import { ConversionPage } from "./features/conversion";
import { DashboardPage } from "./features/dashboard";
import { JobsPage } from "./features/jobs";
import { PartnersPage } from "./features/partners";
import { RemotesPage } from "./features/remotes";
import { DispositionsPage, DncPage, NumberDetailPage, NumbersPage } from "./features/numbers";
import { WebhooksPage } from "./features/webhooks";
import { DeletedProjectsPage, ProjectEditor, ProjectsPage } from "./features/projects";
import { GeosPage, ProvidersPage, StatusesPage } from "./features/settings";
import { RolesPage, TokensPage, UsersPage } from "./features/users";

type Me = Schemas["Me"];

/** Pages in the navigation, each shown to callers holding its permission. */
const PAGES: { path: string; label: MessageKey; permission: string | "platform"; element: (me: Me) => ReactElement }[] = [
  { path: "/today", label: "dashboard", permission: "projects.read", element: () => <DashboardPage /> },
  { path: "/projects", label: "projects", permission: "projects.read", element: (me) => <ProjectsPage canWrite={allowed(me, "projects.write")} /> },
  { path: "/conversion", label: "conversion", permission: "conversion.read", element: () => <ConversionPage /> },
  {
    path: "/numbers",
    label: "numbers",
    permission: "numbers.read",
    element: (me) => <NumbersPage canWrite={allowed(me, "numbers.write")} canDnc={allowed(me, "dnc.write")} />,
  },
  { path: "/dnc", label: "dncList", permission: "numbers.read", element: (me) => <DncPage canWrite={allowed(me, "dnc.write")} /> },
  { path: "/imports", label: "imports", permission: "numbers.read", element: () => <ImportsPage /> },
  { path: "/exports", label: "exports", permission: "exports.create", element: () => <ExportsPage /> },
  { path: "/providers", label: "providers", permission: "numbers.read", element: () => <ProvidersPage /> },
  { path: "/geos", label: "geos", permission: "numbers.read", element: () => <GeosPage /> },
  { path: "/statuses", label: "statuses", permission: "numbers.read", element: () => <StatusesPage /> },
  { path: "/dispositions", label: "dispositions", permission: "settings.manage", element: () => <DispositionsPage /> },
  { path: "/webhooks", label: "webhooks", permission: "settings.manage", element: () => <WebhooksPage /> },
  { path: "/jobs", label: "jobs", permission: "settings.manage", element: () => <JobsPage /> },
  { path: "/partners", label: "partners", permission: "settings.manage", element: () => <PartnersPage /> },
  { path: "/remotes", label: "remotes", permission: "settings.manage", element: () => <RemotesPage /> },
  { path: "/users", label: "users", permission: "users.manage", element: () => <UsersPage /> },
  { path: "/roles", label: "roles", permission: "users.manage", element: () => <RolesPage /> },
  { path: "/tokens", label: "tokens", permission: "tokens.create", element: () => <TokensPage /> },
  { path: "/audit", label: "audit", permission: "audit.read", element: () => <AuditPage /> },
];

function allowed(me: Me, permission: string) {
  return permission === "platform" ? me.is_platform_admin : me.permissions.includes(permission);
}

export function App() {
  const [locale, setLocaleState] = useState<Locale>(storedLocale);
  const [theme, setTheme] = useState<string>(() => localStorage.getItem("dialpool.theme") ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("dialpool.theme", theme);
  }, [theme]);
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
      t: (key: MessageKey) => translate(locale, key),
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
  else body = <Shell me={me.data} theme={theme} setTheme={setTheme} />;
  return <I18nContext.Provider value={i18n}>{body}</I18nContext.Provider>;
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
    <div className="login panel">
      <h2>Dialpool</h2>
      <form onSubmit={submit}>
        <label>
          {t("email")}
          <input name="email" type="email" autoComplete="username" required />
        </label>
        <label>
          {t("password")}
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        <button className="primary" type="submit">
          {t("signIn")}
        </button>
        <ErrorText error={error} />
      </form>
    </div>
  );
}

function ChangePassword({ forced }: { forced?: boolean }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    try {
      ensureOk(
        await api.POST("/api/v1/me/password", {
          body: { current_password: String(form.get("current")), new_password: String(form.get("new")) },
        }),
      );
      setDone(true);
      await queryClient.invalidateQueries({ queryKey: ["me"] });
    } catch (err) {
      setError(err);
    }
  }
  return (
    <div className={forced ? "login panel" : "panel"}>
      <h2>{t("changePassword")}</h2>
      {forced && <p>{t("mustChangePassword")}</p>}
      <form className="form" onSubmit={submit}>
        <label>
          {t("currentPassword")}
          <input name="current" type="password" autoComplete="current-password" required />
        </label>
        <label>
          {t("newPassword")}
          <input name="new" type="password" autoComplete="new-password" minLength={10} required />
        </label>
        <button className="primary" type="submit">
          {t("save")}
        </button>
        {done && <p className="ok">{t("saved")}</p>}
        <ErrorText error={error} />
      </form>
    </div>
  );
}

/** What a page that failed shows instead of itself. */
function PageFailed({ error, resetErrorBoundary }: FallbackProps) {
  const { t } = useI18n();
  return (
    <section className="panel" role="alert" data-testid="page-failed">
      <h2>{t("pageFailed")}</h2>
      <p className="error">{error instanceof Error ? error.message : String(error)}</p>
      <button className="primary" onClick={resetErrorBoundary}>
        {t("retry")}
      </button>
    </section>
  );
}

function Shell({ me, theme, setTheme }: { me: Me; theme: string; setTheme: (t: string) => void }) {
  const { t, locale, setLocale } = useI18n();
  const queryClient = useQueryClient();
  const pages = PAGES.filter((p) => allowed(me, p.permission));
  const location = useLocation();
  async function signOut() {
    await api.POST("/api/v1/auth/logout");
    setCsrfToken(null);
    queryClient.clear();
    queryClient.setQueryData(["me"], null);
  }
  return (
    <div className="shell">
      <nav className="nav" aria-label="main">
        <h1>{t("appName")}</h1>
        {pages.map((p) => (
          <NavLink key={p.path} to={p.path}>
            {t(p.label)}
          </NavLink>
        ))}
        <NavLink to="/account">{t("changePassword")}</NavLink>
        <div className="spacer" />
        <div className="prefs">
          <span>{me.email}</span>
          <label>
            {t("language")}
            <select aria-label={t("language")} value={locale} onChange={(e) => setLocale(e.target.value as Locale)}>
              {LOCALES.map((l) => (
                <option key={l} value={l}>
                  {l === "en" ? "English" : "Русский"}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t("theme")}
            <select aria-label={t("theme")} value={theme} onChange={(e) => setTheme(e.target.value)}>
              <option value="light">{t("light")}</option>
              <option value="dark">{t("dark")}</option>
            </select>
          </label>
          <button onClick={signOut}>{t("signOut")}</button>
        </div>
      </nav>
      <main>
        {/* A page that fails shows what failed and a retry; the menu stays, and moving
            to another page leaves the failure behind. */}
        <ErrorBoundary
          FallbackComponent={PageFailed}
          resetKeys={[location.pathname]}
          onReset={() => queryClient.resetQueries()}
          onError={(error) => console.warn("page failed", error)}
        >
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
        </ErrorBoundary>
      </main>
    </div>
  );
}
