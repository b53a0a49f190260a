// End-to-end test of the dashboard's review page in Debian's Chromium (playwright-core):
//   node e2e/review.mjs BASE_URL SERVICE_KEY REVIEWER_KEY REVIEWER_NAME ID[,ID...]
// Scores the clients with the service key (the server queues what it reviews), then, with the
// keyboard only: gives the reviewer's key, opens the oldest review, tries to change the
// automated decision without a reason (refused, announced, focus on the reason), gives one and
// records it. Checks the journal's answer through the API, the model view's oversight figures,
// and scans each state with axe-core (WCAG 2.1 A/AA; no serious or critical violation).
// Screenshots in $RISKSCORE_E2E_ARTIFACTS. Exits 1 on the first failure.
import { join } from "node:path";
import { artifacts, axe as scan, check, launch } from "./lib.mjs";

const [base, serviceKey, reviewerKey, reviewer, idList] = process.argv.slice(2);
if (!idList) {
  console.error("usage: node review.mjs BASE_URL SERVICE_KEY REVIEWER_KEY REVIEWER_NAME ID[,ID...]");
  process.exit(2);
}
const browser = await launch();
try {
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1200, height: 1000 } });
  const page = await context.newPage();
  const failed = [];
  page.on("pageerror", (e) => failed.push("script error: " + e.message));
  const axe = (view) => scan(page, view);
  const as = (key) => ({ headers: { "X-API-Key": key } });
  for (const id of idList.split(",")) {
    const r = await page.request.get(`${base}/v1/clients/${id}/score`, as(serviceKey));
    check(r.ok(), `client ${id} scored`);
  }
  const queue = await (await page.request.get(`${base}/v1/reviews?limit=200`, as(reviewerKey))).json();
  check(queue.items.length > 0, `${queue.items.length} decisions queued for review`);
  const first = queue.items[0];

  // Without a key the page asks for one.
  await page.goto(base + "/#reviews");
  await page.waitForSelector("#reviews-error:not([hidden])");
  check((await page.textContent("#reviews-error")).includes("reviewer key"), "the page asks for the reviewer's key");

  // Keyboard only from here: Tab to the key field, type, Enter.
  const focusedId = () => page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.getAttribute("aria-label")));
  let f = "";
  for (let i = 0; i < 10 && f !== "reviewer-key"; i++) { await page.keyboard.press("Tab"); f = await focusedId(); }
  check(f === "reviewer-key", "the key field is reached with Tab");
  await page.keyboard.type(reviewerKey);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#queue tbody tr button");
  const rows = await page.locator("#queue tbody tr").count();
  check(rows === queue.items.length, `the queue lists the ${rows} waiting decisions, as the API does`);
  check((await page.textContent("#queue tbody tr td")) === String(first.entry), "the oldest waiting decision comes first");
  await page.screenshot({ path: join(artifacts, "reviews.png"), fullPage: true });
  await axe("review queue");

  for (let i = 0; i < 10 && !String(f).startsWith("Review entry"); i++) { await page.keyboard.press("Tab"); f = await focusedId(); }
  check(f === `Review entry ${first.entry}, client ${first.client}`, "the first review is reached with Tab");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#review-detail:not([hidden])");
  check(await focusedId() === "review-heading", "opening a review moves the focus to it");
  check((await page.textContent("#review-facts")).includes(first.decision === "refused" ? "Refused" : "Granted"), "the automated decision is shown");
  await page.waitForFunction(() => document.querySelectorAll("#review-reasons li").length > 0);
  await page.screenshot({ path: join(artifacts, "review.png"), fullPage: true });
  await axe("opened review");

  // Change the decision: Tab to the radio group, pick the other decision with the keyboard.
  for (let i = 0; i < 10 && f !== "review-granted"; i++) { await page.keyboard.press("Tab"); f = await focusedId(); }
  check(f === "review-granted", "the decision's choices are reached with Tab");
  const other = first.decision === "refused" ? "granted" : "refused";
  if (other === "granted") await page.keyboard.press("Space"); else await page.keyboard.press("ArrowDown");
  check(await page.isChecked(`#review-${other}`), `"${other}" chosen with the keyboard`);
  await page.keyboard.press("Tab"); // the reason
  await page.keyboard.press("Tab"); // the button
  await page.keyboard.press("Enter");
  await page.waitForSelector("#review-error:not([hidden])");
  check((await page.textContent("#review-error")).includes("reason"), "an override without a reason is refused, and said");
  check(await focusedId() === "review-reason", "the focus goes to the reason");
  const reason = "Checked by phone with the applicant's employer";
  await page.keyboard.type(reason);
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#review-detail", { state: "hidden" });
  await page.waitForFunction((who) => document.querySelector("#reviews-summary").textContent.includes(`by ${who}`), reviewer, { timeout: 5000 }).catch(() => {});
  check((await page.textContent("#reviews-summary")).includes(`by ${reviewer}`), "the decision is confirmed in the status line");
  const done = await (await page.request.get(`${base}/v1/reviews/${first.entry}`, as(reviewerKey))).json();
  check(done.final_decision && done.final_decision.reviewer === reviewer && done.final_decision.reason === reason &&
    done.final_decision.decision === other && done.final_decision.override === true,
    `the journal holds ${reviewer}'s decision with the reason (entry ${done.final_decision && done.final_decision.entry})`);
  check((await page.textContent("#decided tbody")).includes(reason), "the decided table shows it");
  check(await page.locator("#queue tbody tr").count() === Math.max(1, rows - 1), "the queue is one shorter");
  await page.screenshot({ path: join(artifacts, "reviewed.png"), fullPage: true });
  await axe("review page after a decision");

  // The model view's oversight figures (the service key in the API key field).
  await page.evaluate((k) => { document.getElementById("api-key").value = k; }, serviceKey);
  await page.goto(base + "/#model");
  await page.evaluate((k) => { document.getElementById("api-key").value = k; }, serviceKey);
  await page.evaluate(() => window.dispatchEvent(new HashChangeEvent("hashchange")));
  await page.waitForSelector("#oversight table tbody tr");
  const over = await page.textContent("#oversight");
  check(over.includes(reviewer) && over.includes("100.0 %"), "the model view shows the reviewer's override rate");
  check((await page.textContent("#oversight-note")).includes(`${rows - 1} decisions wait`), "the model view states the queue's size");
  await axe("model view with oversight");
  check(failed.length === 0, "no script error" + (failed.length ? ": " + failed.join(", ") : ""));
} finally {
  await browser.close();
}
