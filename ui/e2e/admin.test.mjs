// The admin UI end to end: a real `dialpool serve` on a fresh database, Debian's Chromium
// driven by playwright-core. The tests run in order on one database: import a fixture and
// find it in the audit log; configure a project and allocate; a dialer leases and posts
// outcomes with a token while the numbers page shows the statuses move; export; read the
// conversion page and the home page; the jobs page and a schedule switched off; a partner
// added in the browser drops a file over SFTP and it is imported; a remote host is added,
// its host key confirmed from the connection test, and a transfer run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { WIDTHS, overflow, rawCodes, screenshotDir, seriousViolations, watch } from "./tour.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(root, "target");
const binary = process.env.DIALPOOL_BIN ?? path.join(targetDir, "debug", "dialpool");
const serverUrl = (process.env.DIALPOOL_TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres").replace(/\/[^/?]*(\?.*)?$/, "");
const database = `dialpool_e2e_${process.pid}`;
const email = "e2e-admin@example.com";
const password = "e2e password long";

let server;
let browser;
let baseUrl;
// Where the server's SFTP drop for partners listens ("127.0.0.1:PORT").
let sftpAddress;
// The server's last log lines, printed when a test fails so a CI log says what happened.
const serverLog = [];
const dataDir = mkdtempSync(path.join(tmpdir(), "dialpool-e2e-"));

before(async () => {
  assert.ok(existsSync(binary), `build the server first: ${binary} is missing`);
  server = spawn(binary, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
    env: { ...process.env, DATABASE_URL: `${serverUrl}/${database}`, DIALPOOL_ADMIN_EMAIL: email, DIALPOOL_ADMIN_PASSWORD: password, DIALPOOL_LOG: "info", NO_COLOR: "1",
           // Schedules are looked at every second (the conversion refresh's is set below).
           DIALPOOL_SCHEDULE_TICK_S: "1", DIALPOOL_SFTP_LISTEN: "127.0.0.1:0" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  baseUrl = await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${seen}`)), 60_000);
    server.stderr.on("data", (chunk) => {
      seen += chunk;
      serverLog.push(...String(chunk).split("\n").filter(Boolean));
      serverLog.splice(0, Math.max(0, serverLog.length - 60));
      sftpAddress ??= seen.match(/SFTP for partners on ([\d.]+:\d+)\r?\n/)?.[1];
      // Only a whole line: a chunk cut after "http://127" would parse as host 0.0.0.127.
      const match = seen.match(/serving on (http:\/\/[\d.:]+)\r?\n/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    server.on("exit", (code) => reject(new Error(`server exited with ${code}:\n${seen}`)));
  });
  // The conversion page's figures come from the aggregates: refresh them every second.
  execFileSync("psql", [`${serverUrl}/${database}`, "-qc", "UPDATE schedules SET cron = '* * * * * *' WHERE system_key = 'conversion_refresh'"]);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGINT");
  await new Promise((r) => (server ? server.on("exit", r) : r()));
  try {
    execFileSync("psql", [`${serverUrl}/postgres`, "-qc", `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`]);
  } catch (e) {
    console.error(`could not drop ${database}: ${e}`);
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** The test body with a signed-in page; on failure, prints what the page and server showed. */
function withPage(body) {
  return async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    const console_ = [];
    page.on("console", (message) => console_.push(`${message.type()}: ${message.text()}`));
    page.on("requestfailed", (request) => console_.push(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`));
    try {
      await signIn(page);
      await body(page);
    } catch (error) {
      const text = await page.locator("body").innerText({ timeout: 2_000 }).catch((e) => `(no body: ${e.message})`);
      console.error(`--- page ${page.url()}\n${text.slice(0, 3_000)}\n--- browser\n${console_.join("\n")}\n--- server\n${serverLog.join("\n")}`);
      throw error;
    } finally {
      await page.close();
    }
  };
}

/** Signs the administrator in on a fresh page (its own context: cookies and storage). */
async function signIn(page) {
  await page.goto(`${baseUrl}/`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByRole("textbox", { name: "Password", exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Signed in when the shell shows; only then does the page's context hold the cookie.
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

test("an administrator imports a file in the browser and finds it in the audit log", withPage(async (page) => {
  // A provider, through the form with its mapping editor.
  await page.getByRole("link", { name: "Providers" }).click();
  await page.getByRole("button", { name: "Create" }).click();
  const form = page.getByRole("form", { name: "provider" });
  await form.getByLabel("Code").fill("e2e-leads");
  await form.getByLabel("Name").fill("E2E Leads");
  await form.getByLabel("Default region").fill("RU");
  await form.getByRole("button", { name: "Add field" }).click();
  await form.getByLabel("column").fill("phone");
  await form.getByRole("button", { name: "Save" }).click();
  await page.getByRole("cell", { name: "phone=phone" }).waitFor();

  // Upload a fixture with duplicates and invalid rows, and wait for the import to end.
  // A select inside its label takes the chosen option into its accessible name
  // ("Provider e2e-leads — E2E Leads" once the list loads), so match the start only.
  await page.getByRole("link", { name: "Imports" }).click();
  await page.getByRole("combobox", { name: /^Provider\b/ }).selectOption({ label: "e2e-leads — E2E Leads" });
  await page.getByLabel("File").setInputFiles(path.join(root, "fixtures/import/duplicates-and-invalid.csv"));
  await page.getByRole("button", { name: "Upload and import" }).click();
  await page.locator('[data-testid="import-task"][data-status="succeeded"]').waitFor();
  // A finished import leaves the running list for the history, rather than staying there.
  await page.locator('[data-testid="import-task"]').waitFor({ state: "detached", timeout: 30_000 });

  // The history shows the counts the engine reports for this file.
  const history = page.getByRole("table", { name: "History" });
  const row = history.getByRole("row").filter({ hasText: "duplicates-and-invalid.csv" });
  await row.waitFor();
  const cells = await row.getByRole("cell").allInnerTexts();
  const api = await page.request.get(`${baseUrl}/api/v1/imports?limit=1`);
  const latest = (await api.json()).items[0];
  assert.equal(latest.file_name, "duplicates-and-invalid.csv");
  assert.ok(latest.total > latest.inserted && latest.invalid > 0, JSON.stringify(latest));
  // Columns: #, file, provider, status, total, inserted, duplicates, invalid, dnc, ...
  assert.deepEqual(cells.slice(3, 9), [
    "Succeeded",
    String(latest.total),
    String(latest.inserted),
    String(latest.duplicate_in_file + latest.duplicate_existing),
    String(latest.invalid),
    String(latest.dnc),
  ]);
  const rejects = await page.request.get(`${baseUrl}/api/v1/imports/${latest.id}/rejects`);
  assert.equal(rejects.status(), 200);

  // The audit log has the import, by this administrator.
  await page.getByRole("link", { name: "Audit log" }).click();
  // Actions are picked by what they mean, not by their code.
  await page.getByLabel("Action", { exact: true }).first().fill("File imp");
  await page.getByRole("option", { name: "File imported" }).click();
  await page.waitForURL(/action=import\.create/);
  const entry = page.getByRole("table", { name: "Audit log" }).getByRole("row").filter({ hasText: "File imported" });
  await entry.waitFor();
  assert.match(await entry.innerText(), new RegExp(`${email}[\\s\\S]*Import ${latest.id}`));

  // Russian and dark, remembered across a reload.
  await page.getByLabel("Language").selectOption("ru");
  await page.getByRole("button", { name: "Включить тёмную тему" }).click();
  await page.reload();
  await page.getByRole("link", { name: "Журнал аудита" }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.mantineColorScheme), "dark");
}));

test("an administrator configures a project's pool, previews it, allocates and sees the fill", withPage(async (page) => {
  await page.getByRole("link", { name: "Projects", exact: true }).click();
  await page.getByRole("link", { name: "Create" }).click();
  const form = page.getByRole("form", { name: "Project" });
  await form.getByLabel("Name").fill("E2E campaign");
  // The zone and the provider are picked from searchable lists.
  await form.getByLabel("Time zone").first().fill("Europe/Mosc");
  await page.getByRole("option", { name: "Europe/Moscow", exact: true }).click();
  await form.getByLabel("Daily quota").fill("2");
  await form.getByRole("button", { name: "Add rule" }).click();
  await form.getByLabel("Provider").first().fill("e2e-le");
  await page.getByRole("option", { name: "e2e-leads — E2E Leads" }).click();
  // A drag on the grid paints hours, or clears them when it starts on a painted hour.
  const drag = async (fromId, toId) => {
    const from = await form.getByTestId(fromId).boundingBox();
    const to = await form.getByTestId(toId).boundingBox();
    await page.mouse.move(from.x + 5, from.y + 5);
    await page.mouse.down();
    await page.mouse.move(to.x + 5, to.y + 5, { steps: 8 });
    await page.mouse.up();
  };
  const monday = form.getByLabel("Monday", { exact: true });
  await monday.fill("09:00-18:00");
  await drag("paint-1-9", "paint-1-12");
  assert.equal(await monday.inputValue(), "13:00-18:00");
  await drag("paint-1-7", "paint-1-9");
  assert.equal(await monday.inputValue(), "07:00-10:00, 13:00-18:00");
  // Every day, so the test does not depend on the weekday it runs on.
  for (const day of ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]) {
    await form.getByLabel(day, { exact: true }).fill("00:00-24:00");
  }
  // The live preview answers before anything is saved.
  await form.getByTestId("preview").filter({ hasText: "Would allocate: 2 / 2" }).waitFor();
  const before = await (await page.request.get(`${baseUrl}/api/v1/projects`)).json();
  assert.equal(before.length, 0, "the preview saved nothing");

  // A broken window gets the server's own words.
  await form.getByLabel("Monday", { exact: true }).fill("10:00-09:00");
  await form.getByText("Monday: window 10:00–09:00 ends before it starts").waitFor();
  await form.getByLabel("Monday", { exact: true }).fill("00:00-24:00");

  await form.getByRole("button", { name: "Save" }).click();
  const list = page.getByRole("table", { name: "Projects" });
  await list.getByRole("row").filter({ hasText: "E2E campaign" }).waitFor();
  const [project] = await (await page.request.get(`${baseUrl}/api/v1/projects`)).json();
  await page.getByTestId(`fill-${project.id}`).filter({ hasText: "0 / 2" }).waitFor();

  await page.getByRole("button", { name: "Allocate now" }).click();
  await page.getByRole("region", { name: "Allocation" }).getByText("Allocated: 2").waitFor();
  await page.getByTestId(`fill-${project.id}`).filter({ hasText: "2 / 2" }).waitFor();

  // Explain one of the numbers it got.
  const numbers = await (await page.request.get(`${baseUrl}/api/v1/numbers?project_id=${project.id}`)).json();
  await page.getByLabel("Phone").fill(numbers.items[0].phone);
  await page.getByRole("button", { name: "Explain" }).click();
  await page.getByTestId("explanation").getByRole("listitem").filter({ hasText: /^E2E campaign: .*the project already holds it/ }).waitFor();
}));

test("a dialer leases numbers and posts outcomes with a token; the statuses move on the numbers page", withPage(async (page) => {
  // Runs after the project test: "E2E campaign" holds the two numbers it allocated.
  const me = await (await page.request.get(`${baseUrl}/api/v1/me`)).json();
  const csrf = { "X-CSRF-Token": me.csrf_token };
  // All day, so the test does not depend on the hour it runs at.
  const hours = await page.request.put(`${baseUrl}/api/v1/calling-hours`, { headers: csrf, data: { start: "00:00", end: "24:00" } });
  assert.equal(hours.status(), 200, await hours.text());
  const token = await (await page.request.post(`${baseUrl}/api/v1/tokens`, { headers: csrf, data: { name: "e2e dialer", permissions: ["calls.work", "scope.all"] } })).json();
  const [project] = (await (await page.request.get(`${baseUrl}/api/v1/projects`)).json()).filter((p) => p.name === "E2E campaign");

  // The dialer is not the browser: plain HTTP with its bearer token, no cookies.
  const dialer = async (method, route, body) => {
    const response = await fetch(`${baseUrl}/api/v1${route}`, {
      method,
      headers: { Authorization: `Bearer ${token.secret}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await response.json();
    assert.ok(response.ok, `${route}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  const lease = await dialer("POST", `/projects/${project.id}/leases`, { count: 2, lease_s: 120 });
  assert.equal(lease.numbers.length, 2, JSON.stringify(lease));
  const [sold, missed] = lease.numbers.map((n) => n.phone);
  const at = new Date().toISOString();
  await dialer("POST", "/outcomes", { call_id: "e2e-1", phone: sold, disposition: "SALE", started_at: at, duration_s: 95, agent: "anna" });
  await dialer("POST", "/outcomes", { call_id: "e2e-2", phone: missed, disposition: "NO ANSWER", started_at: at });

  // The numbers page, filtered to the project, shows both new statuses.
  await page.getByRole("link", { name: "Numbers", exact: true }).click();
  await page.getByRole("combobox", { name: /^Project\b/ }).selectOption({ label: "E2E campaign" });
  await page.getByTestId(`status-${sold}`).filter({ hasText: "Success" }).waitFor();
  await page.getByTestId(`status-${missed}`).filter({ hasText: "No answer" }).waitFor();
  // The table says how many numbers the filter matches in all, not only this page.
  await page.getByTestId("table-total").filter({ hasText: "2 in all" }).waitFor();

  // A bulk action on one picked number moves it again.
  await page.getByLabel(`Pick ${missed}`).check();
  await page.getByRole("combobox", { name: /^New status\b/ }).selectOption({ label: "Refused" });
  await page.getByRole("button", { name: "Apply to picked (1)" }).click();
  await page.getByRole("status").filter({ hasText: "1 of 1" }).waitFor();
  await page.getByTestId(`status-${missed}`).filter({ hasText: "Refused" }).waitFor();

  // The whole filter: the dialog says how many numbers move where, and the change can be
  // undone, which gives each number back the status it had.
  await page.getByRole("combobox", { name: /^New status\b/ }).selectOption({ label: "Call back" });
  await page.getByRole("button", { name: "Apply to the whole filter" }).click();
  const dialog = page.getByRole("dialog", { name: "Change the whole filter?" });
  await dialog.getByText("2 numbers will move to “Call back”").waitFor();
  await dialog.getByRole("button", { name: "Change 2 numbers" }).click();
  await page.getByTestId(`status-${missed}`).filter({ hasText: "Call back" }).waitFor();
  await page.getByTestId(`status-${sold}`).filter({ hasText: "Call back" }).waitFor();
  // The newest toast is this change's (the picked one above has its own Undo).
  await page.getByRole("button", { name: "Undo" }).last().click();
  await page.getByText("Undone: 2 numbers got their status back").waitFor();
  await page.getByTestId(`status-${missed}`).filter({ hasText: "Refused" }).waitFor();
  await page.getByTestId(`status-${sold}`).filter({ hasText: "Success" }).waitFor();

  // The number's own page has the call, with its agent and duration.
  await page.getByRole("link", { name: sold }).click();
  const calls = page.getByRole("table", { name: "Calls" });
  await calls.getByRole("row").filter({ hasText: "SALE" }).filter({ hasText: "anna" }).filter({ hasText: "95" }).waitFor();
  await page.getByRole("table", { name: "History" }).getByRole("row").filter({ hasText: "Called" }).first().waitFor();
}));

test("a manager exports a project's numbers from the exports page and downloads the file", withPage(async (page) => {
  // Runs after the dialer test: "E2E campaign" holds two numbers, one sold.
  await page.getByRole("link", { name: "Exports", exact: true }).click();
  await page.getByRole("button", { name: "New export" }).click();
  const form = page.getByRole("form", { name: "New export" });
  await form.getByRole("combobox", { name: /^Project\b/ }).selectOption({ label: "E2E campaign" });
  await form.getByRole("combobox", { name: /^Delimiter\b/ }).selectOption(";");
  await form.getByRole("button", { name: "Export" }).click();
  const row = page.getByRole("table", { name: "Export history" }).getByRole("row").filter({ hasText: "E2E campaign" });
  await row.filter({ hasText: "done" }).waitFor();
  const href = await row.getByRole("link", { name: "Download" }).getAttribute("href");
  const file = await page.request.get(`${baseUrl}${href}`);
  assert.equal(file.status(), 200);
  const lines = (await file.text()).trim().split("\n");
  assert.equal(lines[0], "phone;provider;geo;status;attempts;allocated_at;name;attributes");
  assert.equal(lines.length, 3, lines.join("\n"));
  assert.ok(lines.some((l) => l.includes(";success;")), lines.join("\n"));
}));

test("the conversion page shows what the dialer's calls produced", withPage(async (page) => {
  // Runs after the dialer test: "E2E campaign" was allocated 2 numbers, leased 2, and
  // its 2 calls made one sale; the serve refreshes the aggregates every second.
  await page.getByRole("link", { name: "Conversion", exact: true }).click();
  const row = page.getByTestId("conversion-E2E campaign");
  await row.waitFor();
  const cells = async () => (await row.getByRole("cell").allInnerTexts()).map((c) => c.trim());
  for (let i = 0; i < 50 && (await cells())[3] !== "2"; i++) {
    await page.reload();
    await row.waitFor();
  }
  const [name, allocated, leased, dialed, , success, conversion] = await cells();
  assert.deepEqual([name, allocated, leased, dialed, success, conversion], ["E2E campaign", "2", "2", "2", "1", "50.0%"]);
  await page.getByTestId("conversion-totals").filter({ hasText: "50.0%" }).waitFor();
  // Both calls started in the same hour: one cell of the weekday × hour heat map.
  // The chart has its figures as a table too.
  const hourSection = page.getByRole("region", { name: /^Weekday × hour/ });
  await hourSection.getByText("Table", { exact: true }).click();
  const hours = hourSection.getByRole("table", { name: "weekday × hour" }).locator('[data-testid^="hour-"]');
  await hours.first().waitFor();
  assert.equal(await hours.count(), 1);
  assert.equal((await hours.first().innerText()).trim(), "50.0%");

  // Drill down to the project's providers and geos, then to the numbers behind a cell.
  await row.getByRole("button", { name: "E2E campaign" }).click();
  const cell = page.getByRole("table", { name: "Conversion" }).getByRole("row").filter({ hasText: "e2e-leads" }).first();
  await cell.waitFor();
  await cell.getByRole("link", { name: "Numbers" }).click();
  await page.getByRole("heading", { name: "Numbers" }).waitFor();
  assert.match(page.url(), /project_id=\d+/);
}));

test("the home page shows today's figures and follows new calls without a reload", withPage(async (page) => {
  // Runs after the dialer test: "E2E campaign" was allocated 2 numbers today and its 2
  // calls made one sale.
  await page.getByRole("link", { name: "Today", exact: true }).click();
  const row = page.getByTestId("today-E2E campaign");
  const cells = async () => (await row.getByRole("cell").allInnerTexts()).map((c) => c.trim());
  await row.waitFor();
  const [, , quota, leased, dialed, , success, conversion] = await cells();
  assert.deepEqual([quota, leased, dialed, success, conversion], ["2 / 2", "2", "2", "1", "50.0%"]);

  // A call posted elsewhere shows up on its own.
  const me = await (await page.request.get(`${baseUrl}/api/v1/me`)).json();
  const [project] = (await (await page.request.get(`${baseUrl}/api/v1/projects`)).json()).filter((p) => p.name === "E2E campaign");
  const numbers = await (await page.request.get(`${baseUrl}/api/v1/numbers?project_id=${project.id}`)).json();
  const posted = await page.request.post(`${baseUrl}/api/v1/outcomes`, {
    headers: { "X-CSRF-Token": me.csrf_token },
    data: { call_id: "e2e-3", phone: numbers.items[0].phone, disposition: "SALE", started_at: new Date().toISOString() },
  });
  assert.equal(posted.status(), 200, await posted.text());
  await row.getByRole("cell", { name: "66.7%" }).waitFor();
  assert.equal((await cells())[4], "3");
  await page.getByRole("region", { name: "Today in all projects" }).getByText("66.7%").waitFor();
}));

test("the jobs page shows the scheduled conversion refreshes and a schedule is switched off in place", withPage(async (page) => {
  // The server refreshes conversion every second through the job queue (see before()).
  await page.getByRole("link", { name: "Jobs", exact: true }).click();
  const jobs = page.getByRole("table", { name: "Jobs" });
  await jobs.getByRole("row").filter({ hasText: "Conversion refresh" }).filter({ hasText: "Succeeded" }).first().waitFor();
  // A finished import says what it stored, from its result, not the last progress report.
  const imported = (await (await page.request.get(`${baseUrl}/api/v1/imports?limit=1`)).json()).items[0];
  const importJob = jobs
    .getByRole("row")
    .filter({ has: page.getByRole("cell", { name: "Number import", exact: true }) })
    .filter({ hasText: "Succeeded" })
    .first();
  await importJob.waitFor();
  assert.match(
    await importJob.getByTestId("job-result").innerText(),
    new RegExp(`^${imported.total} rows read, ${imported.inserted + imported.updated} stored$`),
  );

  const schedules = page.getByRole("table", { name: "Schedules" });
  const row = schedules.getByRole("row").filter({ hasText: "Partition maintenance" });
  const enabled = row.getByRole("checkbox");
  assert.equal(await enabled.isChecked(), true);
  // The box follows the saved schedule, so it changes once the server has it.
  await enabled.click();
  await row.locator("input[type=checkbox]:not(:checked)").waitFor();
  await page.reload();
  await page.getByRole("table", { name: "Schedules" }).getByRole("row").filter({ hasText: "Partition maintenance" }).waitFor();
  assert.equal(await page.getByRole("table", { name: "Schedules" }).getByRole("row").filter({ hasText: "Partition maintenance" }).getByRole("checkbox").isChecked(), false);
  // A bad expression is refused with the server's message, and nothing changes.
  const cron = page.getByLabel("cron Partition maintenance");
  await cron.fill("0 25 * * *");
  await cron.blur();
  await page.getByRole("alert").filter({ hasText: /invalid cron: '0 25 \* \* \*'/ }).first().waitFor();
}));

test("an administrator adds a partner, whose file uploaded with OpenSSH's sftp is imported", withPage(async (page) => {
  const dir = mkdtempSync(path.join(tmpdir(), "dialpool-e2e-partner-"));
  try {
    const key = path.join(dir, "key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "e2e partner", "-f", key]);
    await page.getByRole("link", { name: "Partners", exact: true }).click();
    await page.getByRole("button", { name: "Add partner" }).click();
    const form = page.getByRole("form", { name: "Add partner" });
    await form.getByLabel("Login").fill("e2e-partner");
    await form.getByRole("combobox", { name: /^Provider\b/ }).selectOption("e2e-leads");
    await form.getByLabel("Public keys").fill(readFileSync(`${key}.pub`, "utf8").trim());
    await form.getByRole("button", { name: "Add partner" }).click();
    await page.getByRole("table", { name: "Partners" }).getByRole("row").filter({ hasText: "e2e-partner" }).waitFor();

    // The partner drops a file with OpenSSH's own client.
    assert.ok(sftpAddress, "the server printed where SFTP listens");
    const [host, port] = sftpAddress.split(":");
    writeFileSync(path.join(dir, "drop.csv"), "phone,name\n+79169990001,Drop One\n+79169990002,Drop Two\n");
    writeFileSync(path.join(dir, "batch"), "put drop.csv /inbox/drop.csv\n");
    execFileSync("sftp", ["-P", port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                          "-i", key, "-b", path.join(dir, "batch"), `e2e-partner@${host}`], { cwd: dir, stdio: "pipe" });
    const upload = page.getByRole("table", { name: "Uploads" }).getByRole("row").filter({ hasText: "drop.csv" });
    await upload.filter({ hasText: "Succeeded" }).waitFor();
    const number = await page.request.get(`${baseUrl}/api/v1/numbers/${encodeURIComponent("+79169990001")}`);
    assert.equal(number.status(), 200, await number.text());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}));

test("an administrator adds a remote host, confirms the key its test shows, and runs a transfer", withPage(async (page) => {
  // The remote is the server's own SFTP drop, signed in to with a partner's password.
  assert.ok(sftpAddress, "the server printed where SFTP listens");
  const [host, port] = sftpAddress.split(":");
  await page.getByRole("link", { name: "Partners", exact: true }).click();
  await page.getByRole("button", { name: "Add partner" }).click();
  const partner = page.getByRole("form", { name: "Add partner" });
  await partner.getByLabel("Login").fill("e2e-remote");
  await partner.getByRole("combobox", { name: /^Provider\b/ }).selectOption("e2e-leads");
  await partner.getByRole("textbox", { name: "Password", exact: true }).fill("e2e remote password");
  await partner.getByRole("button", { name: "Add partner" }).click();
  await page.getByRole("table", { name: "Partners" }).getByRole("row").filter({ hasText: "e2e-remote" }).waitFor();

  await page.getByRole("link", { name: "Remote hosts", exact: true }).click();
  await page.getByRole("button", { name: "Add remote host" }).click();
  const form = page.getByRole("form", { name: "Add remote host" });
  await form.getByLabel("Name", { exact: true }).fill("Own drop");
  await form.getByLabel("Host", { exact: true }).fill(host);
  await form.getByLabel("Port", { exact: true }).fill(port);
  await form.getByLabel("Login", { exact: true }).fill("e2e-remote");
  await form.getByRole("textbox", { name: "Password", exact: true }).fill("e2e remote password");
  await form.getByRole("combobox", { name: "Provider" }).selectOption("e2e-leads");
  await form.getByLabel("Remote folder", { exact: true }).fill("outbox");
  await form.getByLabel("File pattern", { exact: true }).fill("*.csv");
  await form.getByRole("button", { name: "Add remote host" }).click();
  const row = page.getByRole("table", { name: "Remote hosts" }).getByRole("row").filter({ hasText: "Own drop" });
  await row.filter({ hasText: "not confirmed" }).waitFor();

  // The first test stops at the host key and shows it; it is the server's own.
  await row.getByRole("button", { name: "Test connection" }).click();
  const offered = page.getByText(/The host offers the key/);
  await offered.waitFor();
  const fingerprint = (await offered.locator("code").innerText()).trim();
  const hostKey = readFileSync(path.join(dataDir, "sftp_host_ed25519_key"), "utf8");
  const keyFile = path.join(dataDir, "host_key_copy");
  writeFileSync(keyFile, hostKey, { mode: 0o600 });
  const expected = execFileSync("ssh-keygen", ["-lf", keyFile], { encoding: "utf8" }).split(" ")[1];
  assert.equal(fingerprint, expected);
  await page.getByRole("button", { name: "Confirm this key" }).click();
  await row.filter({ hasText: fingerprint }).waitFor();

  await row.getByRole("button", { name: "Test connection" }).click();
  await page.getByRole("status").filter({ hasText: "signed in to e2e-remote@" }).waitFor();
  await row.getByRole("button", { name: "Run now" }).click();
  await page.getByRole("table", { name: "Transfers" }).getByRole("row").filter({ hasText: "Own drop" }).filter({ hasText: "Succeeded" }).waitFor();

  // Switched off, it cannot be run; deleted, it is gone with its schedule.
  await row.getByRole("button", { name: "Switch off" }).click();
  await row.filter({ hasText: "Disabled" }).getByRole("button", { name: "Switch on" }).waitFor();
  assert.ok(await row.getByRole("button", { name: "Run now" }).isDisabled());
  await row.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await row.waitFor({ state: "detached" });
  const schedules = await page.request.get(`${baseUrl}/api/v1/schedules`);
  assert.equal(schedules.status(), 200, await schedules.text());
  assert.ok(!(await schedules.text()).includes("Own drop"), "the remote's schedule went with it");
}));

/** A walk over nodes 0..n-1 that takes every ordered pair (a, b), a ≠ b, once as a step:
 * an Eulerian circuit of the complete directed graph (Hierholzer). */
function everyOrderedPair(n) {
  const next = Array.from({ length: n }, (_, a) => Array.from({ length: n }, (_, b) => b).filter((b) => b !== a));
  const stack = [0];
  const walk = [];
  while (stack.length) {
    const at = stack[stack.length - 1];
    if (next[at].length) stack.push(next[at].pop());
    else walk.push(stack.pop());
  }
  return walk.reverse();
}

/** Clicks through every ordered pair of the menu's entries (client-side navigation) and
 * fails on a failed or blank page, a page error, a console error (a refused request is
 * one), or a menu that is gone. Each page is looked at once its data has come. */
async function walkTheMenu(page) {
  const { problems, settled } = watch(page);
  const nav = page.getByRole("navigation", { name: "main" });
  // Pages of the app; the API reference opens in a tab of its own.
  const entries = (await nav.getByRole("link").evaluateAll((links) => links.map((a) => ({ name: a.textContent.trim(), href: a.getAttribute("href") })))).filter((e) => !e.href.startsWith("/api/"));
  const walk = everyOrderedPair(entries.length);
  assert.equal(walk.length, entries.length * (entries.length - 1) + 1);
  let from = null;
  for (const index of walk) {
    const entry = entries[index];
    await nav.getByRole("link", { name: entry.name, exact: true }).click();
    await page.waitForURL((url) => url.pathname === entry.href);
    await page.locator("main h2, main [data-testid=page-failed]").first().waitFor();
    await settled();
    const failed = await page.getByTestId("page-failed").count();
    const text = (await page.locator("main").innerText()).trim();
    if (failed || !text || problems.length || !(await nav.isVisible())) {
      throw new Error(`${from} → ${entry.name}: ${failed ? "the page failed" : !text ? "a blank page" : "the menu is gone"}\n${problems.join("\n")}`);
    }
    from = entry.name;
  }
  return entries;
}

test("an administrator erases a number a partner sent, its upload is refused as erased, and a lifted tombstone lets it back", withPage(async (page) => {
  // A number stored by an upload through the API of this same server.
  const providers = await (await page.request.get(`${baseUrl}/api/v1/providers`)).json();
  const provider = providers.items.find((p) => p.code === "e2e-leads") ?? providers.items[0];
  const phone = "+79165550123";
  const csrf = (await (await page.request.get(`${baseUrl}/api/v1/me`)).json()).csrf_token;
  const upload = async (name) => {
    const started = await page.request.post(`${baseUrl}/api/v1/imports`, {
      headers: { "x-csrf-token": csrf },
      multipart: { provider_id: String(provider.id), file: { name, mimeType: "text/csv", buffer: Buffer.from(`phone\n${phone}\n`) } },
    });
    assert.equal(started.status(), 202, await started.text());
    const task = (await started.json()).task_id;
    for (let i = 0; i < 100; i++) {
      const state = await (await page.request.get(`${baseUrl}/api/v1/imports/tasks/${task}`)).json();
      if (state.status !== "queued" && state.status !== "running") return (await page.request.get(`${baseUrl}/api/v1/imports/${state.import_id}`)).json();
      await page.waitForTimeout(200);
    }
    throw new Error("the import did not finish");
  };
  assert.equal((await upload("erase-me.csv")).inserted, 1);

  await page.getByRole("link", { name: "Compliance" }).click();
  const form = page.getByRole("form", { name: "Erase numbers" });
  await form.getByLabel("Numbers").fill(phone);
  await form.getByRole("button", { name: "Erase numbers" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Erase numbers" }).click();
  await page.getByText("1 of 1 number(s) erased").waitFor();
  await page.getByRole("table", { name: "Erasures" }).getByRole("row").nth(1).waitFor();

  // Sent again, it is counted as erased and never stored.
  const again = await upload("erase-me-again.csv");
  assert.equal(again.erased, 1, JSON.stringify(again));
  assert.equal((await page.request.get(`${baseUrl}/api/v1/numbers/${encodeURIComponent(phone)}`)).status(), 404);

  // Looked up: erased, and the tombstone is lifted when the person asks to be called again.
  await page.getByRole("tab", { name: "Look up a number" }).click();
  await page.getByRole("form", { name: "Look up a number" }).getByLabel("Phone").fill(phone);
  await page.getByRole("form", { name: "Look up a number" }).getByRole("button", { name: "Look up a number" }).click();
  await page.getByText(/^Erased on .* at the subject's request$/).waitFor();
  const lift = page.getByRole("form", { name: "Lift the tombstone" });
  await lift.getByLabel("Why may it come back?").fill("asked to be called again");
  await lift.getByRole("button", { name: "Lift the tombstone" }).click();
  await page.getByText(/^Lifted on .*asked to be called again$/).waitFor();
  assert.equal((await upload("erase-me-back.csv")).inserted, 1);
}));

test("the provider scorecard shows what a priced batch was worth, and its bad numbers go back once", withPage(async (page) => {
  const providers = await (await page.request.get(`${baseUrl}/api/v1/providers`)).json();
  const provider = providers.items.find((p) => p.code === "e2e-leads") ?? providers.items[0];
  const csrf = { "x-csrf-token": (await (await page.request.get(`${baseUrl}/api/v1/me`)).json()).csrf_token };
  const importFile = async (name, text) => {
    const started = await page.request.post(`${baseUrl}/api/v1/imports`, {
      headers: csrf,
      multipart: { provider_id: String(provider.id), file: { name, mimeType: "text/csv", buffer: Buffer.from(text) } },
    });
    assert.equal(started.status(), 202, await started.text());
    for (let i = 0; i < 100; i++) {
      const state = await (await page.request.get(`${baseUrl}/api/v1/imports/tasks/${(await started.json()).task_id}`)).json();
      if (state.status === "failed") throw new Error(JSON.stringify(state));
      if (state.import_id) return state.import_id;
      await page.waitForTimeout(200);
    }
    throw new Error(`${name} did not finish importing`);
  };
  const importId = await importFile("priced.csv", "phone\n+79165550777\n+79165550778\n");
  const priced = await page.request.put(`${baseUrl}/api/v1/imports/${importId}/price`, { headers: csrf, data: { price_per_number: 0.4 } });
  assert.equal(priced.status(), 200, await priced.text());
  // A call found one of them invalid.
  const marked = await page.request.post(`${baseUrl}/api/v1/numbers/bulk`, { headers: csrf, data: { selection: { phones: ["+79165550777"] }, action: "set_status", status: 7 } });
  assert.equal(marked.status(), 200, await marked.text());

  await page.getByRole("link", { name: "Provider scorecard" }).click();
  const table = page.getByRole("table", { name: "Provider scorecard" });
  await table.getByRole("row").filter({ hasText: "e2e-leads" }).first().waitFor();
  await table.getByRole("row").filter({ hasText: "All providers" }).waitFor();
  // The earlier calls made the monthly chart.
  await page.getByTestId("scorecard-chart").waitFor();
  // Mantine's segmented control hides its radios behind their labels.
  await page.getByRole("radiogroup", { name: "Rows per" }).locator("label").filter({ hasText: /^Batch$/ }).click();
  await table.getByRole("row").filter({ hasText: "priced.csv" }).waitFor();
  // Number blocks: the called numbers' first four digits, narrowed to one prefix.
  await page.getByRole("radiogroup", { name: "Rows per" }).locator("label").filter({ hasText: /^Block \(prefix\)$/ }).click();
  await table.getByRole("columnheader", { name: "Attempt of success (median)" }).waitFor();
  const blockRow = table.getByRole("row").filter({ hasText: /\+\d{4}\b/ }).first();
  await blockRow.waitFor();
  const block = (await blockRow.innerText()).match(/\+(\d{4})\b/)[1];
  // A prefix no called number has leaves only the tenant's row; the block's own brings it back.
  await page.getByLabel("Starting with").fill("+1");
  await table.getByRole("row").filter({ hasText: `+${block}` }).waitFor({ state: "detached" });
  await page.getByLabel("Starting with").fill(`+${block.slice(0, 3)}`);
  await table.getByRole("row").filter({ hasText: `+${block}` }).waitFor();

  await page.getByRole("tab", { name: "Returns" }).click();
  await page.getByRole("combobox", { name: "Provider" }).fill("e2e-le");
  await page.getByRole("option", { name: "e2e-leads — E2E Leads" }).click();
  await page.getByText("This provider takes no returns yet.").waitFor();
  const rules = page.getByRole("form", { name: "Return rules" });
  await rules.getByLabel("Return window, days after delivery").fill("30");
  await rules.getByRole("button", { name: "Save" }).click();
  await page.getByText("Takes back numbers within 30 days of delivery in status Invalid number.").waitFor();
  await page.getByRole("button", { name: "Count what would go back" }).click();
  await page.getByTestId("return-preview").filter({ hasText: "1 numbers would go back, credit 0.4" }).waitFor();
  await page.getByRole("button", { name: "Return as CSV" }).click();
  await page.getByText("1 numbers returned, credit 0.4").waitFor();
  await page.getByRole("table", { name: "Return batches" }).getByRole("row").filter({ hasText: "return-" }).waitFor();
  // Once: nothing is left to return.
  await page.getByRole("button", { name: "Count what would go back" }).click();
  await page.getByTestId("return-preview").filter({ hasText: "0 numbers would go back" }).waitFor();
  const card = await (await page.request.get(`${baseUrl}/api/v1/providers/scorecard?provider_id=${provider.id}`)).json();
  assert.equal(card.rows[0].returned, 1, JSON.stringify(card.rows[0]));
  // The provider sells one of its numbers again: with the rule ticked, that row goes back too.
  await rules.getByLabel("Sold before by this provider").check();
  await rules.getByRole("button", { name: "Save" }).click();
  await page.getByText("Also rows refused as: Sold before by this provider.").waitFor();
  await importFile("priced-again.csv", "phone\n+79165550778\n");
  await page.getByRole("button", { name: "Count what would go back" }).click();
  await page.getByTestId("return-preview").filter({ hasText: "1 numbers would go back" }).filter({ hasText: "Sold before by this provider: 1" }).waitFor();
}));

test("an administrator groups households, and explain shows a number's household", withPage(async (page) => {
  await page.getByRole("link", { name: "Number groups" }).click();
  await page.getByText("No group rules: numbers are not grouped.").waitFor();
  await page.getByRole("button", { name: "New group rule" }).click();
  const form = page.getByRole("form", { name: "New group rule" });
  await form.getByLabel("Name").fill("household");
  await form.getByLabel("Attributes (column headers, comma-separated)").fill("address");
  await form.getByRole("button", { name: "Create" }).click();
  await page.getByRole("table", { name: "Number groups" }).getByRole("row").filter({ hasText: "household" }).waitFor();

  const providers = await (await page.request.get(`${baseUrl}/api/v1/providers`)).json();
  const provider = providers.items.find((p) => p.code === "e2e-leads") ?? providers.items[0];
  const csrf = { "x-csrf-token": (await (await page.request.get(`${baseUrl}/api/v1/me`)).json()).csrf_token };
  const started = await page.request.post(`${baseUrl}/api/v1/imports`, {
    headers: csrf,
    multipart: { provider_id: String(provider.id), file: { name: "family.csv", mimeType: "text/csv", buffer: Buffer.from("phone,address\n+79165551001,5 Lenin St\n+79165551002, 5 LENIN  st\n") } },
  });
  assert.equal(started.status(), 202, await started.text());
  const task = (await started.json()).task_id;
  for (let i = 0; i < 100; i++) {
    const state = await (await page.request.get(`${baseUrl}/api/v1/imports/tasks/${task}`)).json();
    if (state.status !== "queued" && state.status !== "running") break;
    await page.waitForTimeout(200);
  }
  await page.getByRole("link", { name: "Projects", exact: true }).click();
  await page.getByLabel("Phone").fill("+79165551001");
  await page.getByRole("button", { name: "Explain" }).click();
  await page.getByTestId("explained-group").filter({ hasText: "Group “household”, 2 numbers: +79165551002" }).waitFor();
}));

test("every menu entry opens after every other one: no blank page, no page error, no console error", withPage(async (page) => {
  const entries = await walkTheMenu(page);
  assert.ok(entries.length >= 15, JSON.stringify(entries));
}));

test("a manager sees only what a manager may do, and no page asks the server for more", async () => {
  const admin = await browser.newPage();
  await signIn(admin);
  const roles = await (await admin.request.get(`${baseUrl}/api/v1/roles?limit=100`)).json();
  const manager = roles.items.find((r) => r.name === "manager");
  const csrf = (await (await admin.request.get(`${baseUrl}/api/v1/me`)).json()).csrf_token;
  const created = await admin.request.post(`${baseUrl}/api/v1/users`, {
    headers: { "x-csrf-token": csrf },
    data: { email: "e2e-manager@example.com", display_name: "Manager", password: "manager password long", role_id: manager.id, locale: "en", scopes: {} },
  });
  assert.equal(created.status(), 201, await created.text());
  await admin.close();

  const page = await browser.newPage();
  page.setDefaultTimeout(20_000);
  try {
    await page.goto(`${baseUrl}/`);
    await page.getByLabel("E-mail").fill("e2e-manager@example.com");
    await page.getByRole("textbox", { name: "Password", exact: true }).fill("manager password long");
    await page.getByRole("button", { name: "Sign in" }).click();
    // A user an administrator made chooses a password of their own first.
    await page.getByText("Choose a new password before you continue.").waitFor();
    await page.getByRole("textbox", { name: "Current password", exact: true }).fill("manager password long");
    await page.getByRole("textbox", { name: "New password", exact: true }).fill("manager's own password");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await page.getByRole("link", { name: "Projects", exact: true }).click();
    await page.getByRole("table", { name: "Projects" }).waitFor();
    for (const action of ["Dry run", "Allocate now"]) {
      assert.equal(await page.getByRole("button", { name: action }).count(), 0, `${action} is not offered`);
    }
    assert.equal(await page.getByRole("link", { name: "Create" }).count(), 0, "Create is not offered");
    await walkTheMenu(page);
  } finally {
    await page.close();
  }
});

test("the tour: every page at 1440 px and 390 px, in English and Russian, reads well and is accessible", withPage(async (page) => {
  const openapi = JSON.parse(readFileSync(path.join(root, "api/openapi.json"), "utf8"));
  // Codes the server sends that a page must never show as they are.
  const enumValues = [...new Set(["JobKind", "JobState", "TaskStatus", "Direction"].flatMap((name) => openapi.components.schemas[name]?.enum ?? []))].filter((v) => /_/.test(v) || ["succeeded", "dead", "queued", "retrying"].includes(v));
  const en = JSON.parse(readFileSync(path.join(here, "../src/locales/en.json"), "utf8"));
  const ru = JSON.parse(readFileSync(path.join(here, "../src/locales/ru.json"), "utf8"));
  // English sentences and labels a Russian page must not show: those Russian words differently.
  const english = Object.keys(en).filter((k) => ru[k] && ru[k] !== en[k] && /^[A-Z][a-z]+ [a-z]+/.test(en[k]) && en[k].length >= 8).map((k) => en[k].replace(/\{\w+\}.*$/, "").trim()).filter((v) => v.length >= 8);
  const watched = watch(page);
  const problems = watched.problems;
  // Charts and transitions draw after the data lands.
  const settled = () => watched.settled(250);
  const links = await page.getByRole("navigation", { name: "main" }).getByRole("link").evaluateAll((as) => as.map((a) => a.getAttribute("href")).filter((h) => h.startsWith("/") && !h.startsWith("/api/")));
  const project = (await (await page.request.get(`${baseUrl}/api/v1/projects`)).json())[0];
  const number = (await (await page.request.get(`${baseUrl}/api/v1/numbers?limit=1`)).json()).items[0];
  const paths = [
    ...links,
    "/projects/new",
    "/projects/deleted",
    ...(project ? [`/projects/${project.id}`] : []),
    ...(number ? [`/numbers/${encodeURIComponent(number.phone)}`] : []),
  ];
  assert.ok(paths.length >= 24, paths.join(" "));
  const shots = screenshotDir(root);
  const failures = [];
  /** Every check on the page as it stands, and its screenshot when named. */
  const look = async (on, at, locale, shot) => {
    const wide = await overflow(on);
    if (wide) failures.push(`${at}: scrolls sideways: ${wide}`);
    // An identifier shown as one (a status's code, in <code>) is what the API takes, not a label.
    const text = await on.evaluate(() => {
      const style = document.createElement("style");
      style.textContent = "code { display: none !important; }";
      document.head.append(style);
      const visible = document.body.innerText;
      style.remove();
      return visible;
    });
    for (const raw of rawCodes(text, { enumValues, english: locale === "ru" ? english : [] })) failures.push(`${at}: ${raw}`);
    for (const v of await seriousViolations(on)) failures.push(`${at}: axe ${v}`);
    for (const p of problems) failures.push(`${at}: ${p}`);
    if (shot) await on.screenshot({ path: path.join(shots, shot), fullPage: false });
  };
  // Both languages at both widths in the light theme, and the dark theme once, at a desk
  // in English, for its contrast.
  const passes = [
    { locale: "en", scheme: "light", sizes: WIDTHS },
    { locale: "ru", scheme: "light", sizes: WIDTHS },
    { locale: "en", scheme: "dark", sizes: WIDTHS.slice(0, 1) },
  ];
  for (const { locale, scheme, sizes } of passes) {
    await page.evaluate(([l, s]) => {
      localStorage.setItem("dialpool.locale", l);
      localStorage.setItem("dialpool.theme", s);
    }, [locale, scheme]);
    for (const size of sizes) {
      await page.setViewportSize({ width: size.width, height: size.height });
      for (const where of paths) {
        problems.length = 0;
        await page.goto(`${baseUrl}${where}`);
        await page.locator("main h2, main [data-testid=page-failed]").first().waitFor();
        await settled();
        const name = (where.replace(/^\//, "").replace(/[^\w]+/g, "-") || "home").replace(/^projects-\d+$/, "projects-detail").replace(/^numbers-.+$/, "numbers-detail");
        await look(page, `${where} (${locale}, ${scheme}, ${size.width} px)`, locale, scheme === "light" ? `${name}.${locale}.${size.name}.png` : null);
      }
    }
  }
  // The sign-in page, in a browser that has no session.
  for (const locale of ["en", "ru"]) {
    for (const size of WIDTHS) {
      const context = await browser.newContext({ viewport: { width: size.width, height: size.height } });
      await context.addInitScript((l) => localStorage.setItem("dialpool.locale", l), locale);
      const fresh = await context.newPage();
      const errors = [];
      fresh.on("console", (m) => m.type() === "error" && !m.text().includes("401") && errors.push(m.text()));
      await fresh.goto(`${baseUrl}/`);
      await fresh.getByRole("button", { name: locale === "en" ? "Sign in" : "Войти" }).waitFor();
      problems.length = 0;
      problems.push(...errors.map((e) => `console error: ${e}`));
      await look(fresh, `sign-in (${locale}, ${size.width} px)`, locale, `sign-in.${locale}.${size.name}.png`);
      await context.close();
    }
  }
  assert.deepEqual(failures, [], `${failures.length} problems:\n${failures.join("\n")}`);
}));
