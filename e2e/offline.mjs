// A report opened from disk, offline: every request that is not the file itself is refused and
// counted. Checks that none was attempted, counts the sections (h2), scans with axe-core (WCAG
// 2.1 A/AA; no serious or critical violation) and saves a screenshot.
//   node e2e/offline.mjs FILE.html
import { join, resolve, basename } from "node:path";
import { pathToFileURL } from "node:url";
import { artifacts, axe, check, launch } from "./lib.mjs";

const [file] = process.argv.slice(2);
if (!file) { console.error("usage: node offline.mjs FILE.html"); process.exit(2); }
const url = pathToFileURL(resolve(file)).href;
const browser = await launch();
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
  await axe(page, "document");
} finally {
  await browser.close();
}
