// The tour: every page at a desk (1440 px) and on a phone (390 px), in English and in
// Russian, looked at once its data has come. Each visit must show no horizontal
// scrolling, no console error, no raw server code (snake_case, dotted codes, cron
// strings, JSON, untranslated English in Russian), and no serious accessibility
// violation by axe-core. A screenshot of each visit goes to docs/admin-ui/ for the docs.
import { createRequire } from "node:module";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export const WIDTHS = [
  { name: "desk", width: 1440, height: 900 },
  { name: "phone", width: 390, height: 844 },
];

/** Words a page may show as they are: names of formats, protocols and the product. */
const ALLOWED_WORDS = new Set(["csv", "xlsx", "xls", "parquet", "vicidial", "utf-8", "windows-1251", "json"]);

/** Raw codes in a page's visible text; `english` lists catalogue strings a Russian page must not show. */
export function rawCodes(text, { enumValues, english }) {
  const found = [];
  // Addresses, file names and e-mail addresses are the user's own data, not codes.
  const cleaned = text
    .replace(/\S+@\S+/g, " ")
    .replace(/https?:\/\/\S+/g, " ")
    .replace(/[\w.-]+\.(csv|xlsx|xls|parquet|txt|gz|zip|json|pub)\b/gi, " ")
    .replace(/\b[\w-]+\.(dialpool\.test|example\.com)\b/g, " ");
  for (const m of cleaned.matchAll(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/g)) found.push(`snake_case "${m[0]}"`);
  for (const m of cleaned.matchAll(/\b[a-z][a-z_]*\.[a-z][a-z_]+\b/g)) found.push(`dotted code "${m[0]}"`);
  // Five or six cron fields on one line, one of them a `*` (table cells are tab-separated).
  for (const m of cleaned.matchAll(/(?:^| )((?:[\d*/,-]+ +){4,5}[\d*/,-]+)(?= |$)/gm)) {
    if (m[1].includes("*")) found.push(`cron "${m[1]}"`);
  }
  for (const m of cleaned.matchAll(/[{[]\s*"[a-z_]+"\s*:/g)) found.push(`JSON "${m[0]}"`);
  for (const value of enumValues) {
    if (ALLOWED_WORDS.has(value)) continue;
    if (new RegExp(`(^|[^\\w.-])${value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}($|[^\\w.-])`).test(cleaned)) found.push(`enum value "${value}"`);
  }
  for (const phrase of english ?? []) {
    if (cleaned.includes(phrase)) found.push(`untranslated "${phrase}"`);
  }
  return [...new Set(found)];
}

/** Runs axe-core in the page; the serious and critical violations, one line each. */
export async function seriousViolations(page) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.join(", ")}`);
}

/** Whether the page scrolls sideways (the document wider than the window). */
export async function overflow(page) {
  return page.evaluate(() => {
    const root = document.documentElement;
    if (root.scrollWidth <= root.clientWidth) return null;
    // Name the widest elements so a failure says what to fix.
    const wide = [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 1)
      .filter((e) => !e.parentElement || e.parentElement.getBoundingClientRect().right <= root.clientWidth + 1)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}${e.className && typeof e.className === "string" ? "." + e.className.split(" ")[0] : ""} (${Math.round(e.getBoundingClientRect().right)} px)`);
    return `scrollWidth ${root.scrollWidth} > clientWidth ${root.clientWidth}: ${wide.join(", ")}`;
  });
}

export function screenshotDir(root) {
  const dir = process.env.DIALPOOL_SCREENSHOTS ?? path.join(root, "docs", "admin-ui");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** What a page says went wrong (page errors, console errors: a refused request is one),
 * and `settled()`, which waits until no request is in flight (event streams aside), so a
 * page is looked at once its data has come, as a person looks at it; `drawMs` more for
 * charts and transitions. `problems` may be emptied between pages. */
export function watch(page) {
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => message.type() === "error" && problems.push(`console error: ${message.text()}`));
  const inFlight = new Set();
  const streaming = (request) => request.resourceType() === "eventsource" || request.url().includes("/events");
  page.on("request", (request) => streaming(request) || inFlight.add(request));
  page.on("requestfinished", (request) => inFlight.delete(request));
  page.on("requestfailed", (request) => inFlight.delete(request));
  const settled = async (drawMs = 0) => {
    for (let quiet = 0; quiet < 3; ) {
      await page.waitForTimeout(30);
      quiet = inFlight.size === 0 ? quiet + 1 : 0;
    }
    if (drawMs) await page.waitForTimeout(drawMs);
  };
  return { problems, settled };
}
