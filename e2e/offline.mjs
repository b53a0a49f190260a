// A report opened from disk, offline: every request that is not the file itself is refused and
// counted. Checks that none was attempted, counts the sections (h2), scans with axe-core (WCAG
// 2.1 A/AA; no serious or critical violation) and saves a screenshot.
//   node e2e/offline.mjs FILE.html
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import { join, resolve, basename } from "node:path";
import { pathToFileURL } from "node:url";

const [file] = process.argv.slice(2);
if (!file) { console.error("usage: node offline.mjs FILE.html"); process.exit(2); }
const artifacts = process.env.RISKSCORE_E2E_ARTIFACTS || "target/e2e";
mkdirSync(artifacts, { recursive: true });
const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const url = pathToFileURL(resolve(file)).href;
function check(ok, what) {
  if (!ok) throw new Error("failed: " + what);
  console.log("ok: " + what);
}
const browser = await chromium.launch({
  executablePath: process.env.RISKSCORE_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1200, height: 1000 } });
  const outside = [];
  await context.route("**/*", (route) => {
    if (route.request().url() === url) return route.continue();
    outside.push(route.request().url());
    return route.abort();
  });
  const page = await context.newPage();
  await page.goto(url);
  const sections = await page.locator("h2").count();
  console.log(`ok: ${sections} sections`);
  check(outside.length === 0, "no request left the file" + (outside.length ? ": " + outside.join(", ") : ""));
  check(await page.locator("svg title").count() >= 1, "charts carry a title");
  await page.screenshot({ path: join(artifacts, basename(file, ".html") + ".png"), fullPage: true });
  // axe is read from disk by the test, not fetched: the route above stays closed.
  await page.addScriptTag({ path: axePath });
  const r = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
  }));
  const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of r.violations) console.log(`axe: ${v.impact} ${v.id}: ${v.help}: ${v.nodes.map((n) => n.target.join(" ")).join("; ")}`);
  check(bad.length === 0, `axe: no serious or critical violation (${r.passes.length} rules pass)`);
} finally {
  await browser.close();
}
