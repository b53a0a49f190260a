// What the end-to-end scripts share: a check that prints and throws, Debian's Chromium
// launched as the tests need it, the artifacts folder, and an axe-core scan (WCAG 2.1 A/AA;
// no serious or critical violation allowed).
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

export const artifacts = process.env.RISKSCORE_E2E_ARTIFACTS || "target/e2e";
mkdirSync(artifacts, { recursive: true });

/// Prints "ok: what", or throws "failed: what".
export function check(ok, what) {
  if (!ok) throw new Error("failed: " + what);
  console.log("ok: " + what);
}

/// Chromium headless, without the background connections this machine's closed network refuses.
export function launch() {
  return chromium.launch({
    executablePath: process.env.RISKSCORE_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/// Scans the page with axe-core, read from disk and injected as a script (the context is made
/// with bypassCSP: the pages' policy allows their own server's scripts only); every violation is
/// printed, a serious or critical one fails.
export async function axe(page, what) {
  await page.addScriptTag({ path: axePath });
  const r = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
  }));
  const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of r.violations) {
    console.log(`axe ${what}: ${v.impact} ${v.id}: ${v.help}: ${v.nodes.map((n) => n.target.join(" ") + " " + (n.failureSummary || "").split("\n").slice(1).join(" ")).join("; ")}`);
  }
  check(bad.length === 0, `axe on the ${what}: no serious or critical violation (${r.passes.length} rules pass)`);
}
