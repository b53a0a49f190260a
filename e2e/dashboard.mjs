// End-to-end test of the dashboard in Debian's Chromium, driven by playwright-core:
//   node e2e/dashboard.mjs BASE_URL CLIENT_ID [UNKNOWN_ID [REFUSED_ID]]
// Searches a client and checks the page shows the API's probability and decision, uses the
// page with the keyboard only, scans both views with axe-core (WCAG 2.1 A/AA; no serious or
// critical violation allowed) and saves screenshots in $RISKSCORE_E2E_ARTIFACTS (default
// target/e2e). With REFUSED_ID, a refused client: the print button opens the applicant's
// notice, which is checked and scanned too. Prints one line per check; exits 1 on the first
// failure.
import { join } from "node:path";
import { artifacts, axe as scan, check, launch } from "./lib.mjs";

const [base, id, unknown = "1", refused] = process.argv.slice(2);
if (!base || !id) {
  console.error("usage: node dashboard.mjs BASE_URL CLIENT_ID [UNKNOWN_ID]");
  process.exit(2);
}
const pct = (p) => (100 * p).toFixed(1) + " %";

const browser = await launch();
try {
  // axe is injected as a script: the page's policy allows this server's scripts only.
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1200, height: 1000 } });
  const page = await context.newPage();
  const failed = [];
  page.on("requestfailed", (r) => failed.push(r.url()));
  page.on("pageerror", (e) => failed.push("script error: " + e.message));

  const axe = (view, on = page) => scan(on, `${view} view`);

  // 1. Search with the mouse: the page shows what the API answers.
  await page.goto(base + "/");
  await page.fill("#client-id", id);
  await page.click("button[type=submit]");
  await page.waitForSelector("#result:not([hidden])");
  const api = await (await page.request.get(`${base}/v1/clients/${id}/score`)).json();
  const shown = await page.textContent("#probability");
  check(shown === pct(api.score.probability), `probability shown ${shown} = the API's ${pct(api.score.probability)}`);
  const badge = (await page.textContent("#decision-badge")).toLowerCase();
  check(badge.includes(api.score.decision), `decision shown "${badge}" = the API's ${api.score.decision}`);
  check(await page.locator("#waterfall svg title").count() >= 1, "the waterfall chart has a title");
  check((await page.locator("#reasons li").count()) >= 1, "reasons in words are listed");

  // What-if: each editable figure doubled in turn (the others as they are) until one moves the
  // probability; the page shows the API's answer every time.
  const inputs = page.locator("#whatif-fields input");
  let moved = false;
  for (let k = 0; k < await inputs.count() && !moved; k++) {
    const input = inputs.nth(k);
    const field = await input.getAttribute("name");
    const original = await input.inputValue();
    const doubled = 2 * Number(original);
    await input.fill(String(doubled));
    await page.click("#whatif button[type=submit]");
    await page.waitForFunction((v) => document.querySelector("#whatif-probability").dataset.changes === v,
      JSON.stringify({ [field]: doubled }));
    const wi = await (await page.request.post(`${base}/v1/clients/${id}/whatif`,
      { data: { changes: { [field]: doubled } } })).json();
    const wiShown = await page.textContent("#whatif-probability");
    check(wiShown === pct(wi.after.probability), `what-if ${field} = ${doubled}: ${wiShown} = the API's ${pct(wi.after.probability)}`);
    moved = wi.after.probability !== api.score.probability;
    await input.fill(original);
  }
  check(moved, "a what-if moves the probability");

  // Comparison: the histogram and the scatter with the client, and their summary.
  await page.waitForSelector("#compare-result:not([hidden]) #compare-hist svg");
  check(await page.locator("#compare-scatter svg path").count() >= 1, "the scatter plot highlights the client");
  check((await page.textContent("#compare-summary")).includes("Median: granted"), "the comparison is summarised in words");
  await page.screenshot({ path: join(artifacts, "client.png"), fullPage: true });
  await page.locator("#compare-result").screenshot({ path: join(artifacts, "compare.png") });
  // Every section of the client view rendered (decision, reasons, waterfall, what-if,
  // comparison, information): scanned together.
  await axe("client");

  // The adverse-action notice of a refused client: printed from the client view, it shows the
  // reasons the view lists, and passes axe.
  if (refused) {
    await page.fill("#client-id", refused);
    await page.press("#client-id", "Enter");
    await page.waitForFunction((v) => document.querySelector("#result:not([hidden])") &&
      document.querySelector("#decision-badge").textContent.includes("Refused"), refused);
    check(!(await page.locator("#notice-row").isHidden()), "a refusal offers the applicant's notice");
    const listed = await page.locator("#reasons li").allTextContents();
    const [popup] = await Promise.all([page.waitForEvent("popup"), page.click("#notice-print")]);
    await popup.waitForLoadState();
    const text = await popup.textContent("body");
    check(text.includes("Principal reasons for our decision"), "the notice states the principal reasons");
    check(listed.length >= 1 && listed.every((r) => text.includes(r)), `the notice carries the ${listed.length} reasons shown`);
    check(!/days before/.test(text), "no day counts in the notice");
    await popup.screenshot({ path: join(artifacts, "notice.png"), fullPage: true });
    await axe("notice", popup);
    await popup.close();
    // Its recourse: the options as cards; the first applied to the what-if is granted there.
    await page.waitForFunction(() => !document.querySelector("#recourse-section").hidden &&
      !/Searching/.test(document.querySelector("#recourse-status").textContent) &&
      document.querySelector("#recourse-status").textContent !== "");
    const options = page.locator("#recourse-options .apply-option");
    if (await options.count() > 0) {
      const sentence = await page.textContent("#recourse-options li p");
      check(text.includes(sentence), "the notice carries the first recourse option");
      await options.first().click();
      await page.waitForFunction(() => !document.querySelector("#whatif-result").hidden &&
        document.querySelector("#whatif-probability").dataset.changes !== undefined);
      const decided = await page.textContent("#whatif-decision");
      check(decided.includes("Granted"), `a recourse option applied to the what-if is granted there (${decided.trim()})`);
      await page.screenshot({ path: join(artifacts, "recourse.png"), fullPage: true });
      await axe("recourse");
    } else {
      console.log("- the refused client has no recourse: " + await page.textContent("#recourse-status"));
    }
  }

  // 2. An unknown client: a message in the alert region, no result.
  await page.fill("#client-id", unknown);
  await page.press("#client-id", "Enter");
  await page.waitForSelector("#error:not([hidden])");
  check((await page.textContent("#error")).includes("No client"), "an unknown client is announced");

  // 3. Keyboard only, from a fresh page: Tab to the search field, type, Enter; then Tab to the
  // model view's link and Enter.
  await page.goto(base + "/");
  let focused = "";
  for (let i = 0; i < 6 && focused !== "client-id"; i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  }
  check(focused === "client-id", "the search field is reached with Tab");
  await page.keyboard.type(id);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#result:not([hidden])");
  check((await page.textContent("#probability")) === pct(api.score.probability), "searched with the keyboard only");
  // Back from the search field to the navigation.
  let onModel = false;
  for (let i = 0; i < 8 && !onModel; i++) {
    await page.keyboard.press("Shift+Tab");
    onModel = await page.evaluate(() => document.activeElement && document.activeElement.id === "nav-model");
  }
  check(onModel, "the model view's link is reached with Tab");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#view-model:not([hidden]) #importance svg");
  check((await page.textContent("#model-facts")).includes("Decision threshold"), "the model view opens from the keyboard");
  check(await page.locator("#metrics tbody tr").count() >= 4, "the model view lists the cross-validated metrics");
  // The estimate the bundle carries: nested (honest) for a LightGBM bundle trained with the
  // default, cross-validated (selection-biased) for a shipped scorecard.
  const est = (await (await page.request.get(`${base}/v1/model`)).json()).metrics.estimate;
  const stated = `AUC on new applicants (${est.method}, ${est.selection_aware ? "honest" : "selection-biased"})`;
  check((await page.textContent("#model-facts")).includes(stated), `the model view states the estimate for new applicants: ${stated}`);
  check(await page.locator("#cost tbody tr").count() === 4, "the model view shows the cost matrix");
  const fair = (await (await page.request.get(`${base}/v1/model/fairness`)).json()).fairness;
  await page.waitForFunction(() => document.querySelector("#fairness-note").textContent.length > 0);
  if (fair.attributes.length) {
    await page.waitForSelector("#fairness table tbody tr");
    check(await page.locator("#fairness svg desc").count() === fair.attributes.length, "the model view charts approval rates by group, with a text alternative");
    check((await page.textContent("#fairness")).includes("demographic parity difference"), "the model view states the disparity measures");
  } else {
    check((await page.textContent("#fairness-note")).includes(`${fair.rows} training applicants`), "the model view says what fairness was measured on");
  }
  // Performance since deployment: the journal's decisions, estimated by chunk.
  const mon = await (await page.request.get(`${base}/v1/monitor?chunk_size=500`)).json();
  await page.waitForFunction(() => document.querySelector("#monitor-note").textContent.length > 0);
  check((await page.textContent("#monitor-note")).includes(`${mon.decisions} decisions`), `the model view states the ${mon.decisions} decisions monitored`);
  if (mon.estimated.length) {
    check(await page.locator("#monitor table tbody tr").count() === mon.estimated.length, "the model view tabulates the estimated performance by chunk");
  }
  await page.screenshot({ path: join(artifacts, "model.png"), fullPage: true });
  await axe("model");

  check(failed.length === 0, "no failed request or script error" + (failed.length ? ": " + failed.join(", ") : ""));
} finally {
  await browser.close();
}
