// The relationship managers' dashboard: plain JavaScript over the JSON API, no library, no
// network beyond this server. Every chart is an SVG with a title and a description, and has a
// table or a sentence with the same numbers.
"use strict";

const $ = (id) => document.getElementById(id);
const NS = "http://www.w3.org/2000/svg";
const BLUE = "#0072B2", VERMILLION = "#D55E00", INK = "#1a1a1a", GREY = "#6b6b6b";

function pct(p) { return (100 * p).toFixed(1) + " %"; }
function points(d) { return (d >= 0 ? "+" : "−") + Math.abs(100 * d).toFixed(1) + " points"; }

async function api(path, body, reviewerKey) {
  const headers = {};
  const key = (reviewerKey === undefined ? $("api-key").value : reviewerKey).trim();
  if (key) headers["X-API-Key"] = key;
  const init = { headers };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  let answer = null;
  try { answer = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok) {
    const msg = answer && answer.error ? answer.error.message : "the server answered " + r.status;
    const err = new Error(msg);
    err.status = r.status;
    throw err;
  }
  return answer;
}

function el(tag, attrs, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(width, height, title, desc) {
  const s = el("svg:svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
  s.appendChild(el("svg:title", {}, title));
  s.appendChild(el("svg:desc", {}, desc));
  return s;
}

// A horizontal gauge: the probability against the threshold on one scale.
function gauge(p, t, decision) {
  const W = 420, H = 70, L = 10, R = 10, max = Math.min(1, Math.max(2 * t, 1.25 * p, 0.2));
  const x = (v) => L + (W - L - R) * Math.min(v, max) / max;
  const desc = `Default probability ${pct(p)} against a threshold of ${pct(t)}: ${decision}, ` +
    `${points(p - t)} from the threshold. Scale from 0 to ${pct(max)}.`;
  const s = svg(W, H, "Default probability against the threshold", desc);
  s.appendChild(el("svg:rect", { x: L, y: 20, width: x(t) - L, height: 18, fill: "#cfe3f1" }));
  s.appendChild(el("svg:rect", { x: x(t), y: 20, width: x(max) - x(t), height: 18, fill: "#f6d5c2" }));
  s.appendChild(el("svg:line", { x1: x(t), x2: x(t), y1: 12, y2: 46, stroke: INK, "stroke-width": 2, "stroke-dasharray": "4 3" }));
  s.appendChild(el("svg:text", { x: x(t), y: 10, "text-anchor": "middle", "font-size": 11 }, "threshold " + pct(t)));
  const colour = decision === "refused" ? VERMILLION : BLUE;
  s.appendChild(el("svg:path", { d: `M ${x(p)} 40 l -7 12 l 14 0 z`, fill: colour }));
  s.appendChild(el("svg:text", { x: x(p), y: 66, "text-anchor": "middle", "font-size": 12, "font-weight": "bold" }, pct(p)));
  s.appendChild(el("svg:text", { x: L, y: 66, "font-size": 10, fill: GREY }, "0 %"));
  s.appendChild(el("svg:text", { x: W - R, y: 66, "text-anchor": "end", "font-size": 10, fill: GREY }, pct(max)));
  return s;
}

// A waterfall of SHAP values in log-odds, from the average applicant to this client.
function waterfall(e, top) {
  const cs = [...e.contributions].sort((a, b) => Math.abs(b.shap) - Math.abs(a.shap));
  const shown = cs.slice(0, top);
  // The inputs not listed: what is left of the gap between the average and this client.
  const rest = e.raw_score - e.base_value - shown.reduce((s, c) => s + c.shap, 0);
  const rows = shown.map((c) => ({ label: c.text || c.feature, shap: c.shap }));
  if (Math.abs(rest) > 1e-9) rows.push({ label: "all other inputs", shap: rest });
  let acc = e.base_value;
  const bars = rows.map((r) => { const b = { ...r, from: acc, to: acc + r.shap }; acc += r.shap; return b; });
  const vals = [e.base_value, e.raw_score, ...bars.flatMap((b) => [b.from, b.to])];
  const lo = Math.min(...vals), hi = Math.max(...vals), span = (hi - lo) || 1;
  const LW = 300, W = 760, row = 24, T = 28, H = T + row * (bars.length + 2) + 24;
  const x = (v) => LW + (W - LW - 70) * (v - lo) / span;
  const desc = `Starting from the average applicant (log-odds ${e.base_value.toFixed(3)}, ` +
    `probability ${pct(e.base_probability)}), ` + bars.map((b) =>
      `${b.label} ${b.shap >= 0 ? "raises" : "lowers"} the log-odds by ${Math.abs(b.shap).toFixed(3)}`).join("; ") +
    `; ending at ${e.raw_score.toFixed(3)} before calibration.`;
  const s = svg(W, H, "How each input moved this client's risk", desc);
  s.appendChild(el("svg:text", { x: LW, y: 16, "font-size": 11, fill: GREY }, "log-odds of default (right: riskier)"));
  const label = (i, text) => s.appendChild(el("svg:text", { x: LW - 8, y: T + row * i + 15, "text-anchor": "end", "font-size": 11 }, text.length > 46 ? text.slice(0, 45) + "…" : text));
  label(0, "average applicant");
  s.appendChild(el("svg:line", { x1: x(e.base_value), x2: x(e.base_value), y1: T, y2: T + row * (bars.length + 2), stroke: GREY, "stroke-dasharray": "3 3" }));
  bars.forEach((b, i) => {
    label(i + 1, b.label);
    const up = b.shap >= 0;
    const r = el("svg:rect", {
      x: x(Math.min(b.from, b.to)), y: T + row * (i + 1) + 4, width: Math.max(1, Math.abs(x(b.to) - x(b.from))),
      height: row - 8, fill: up ? VERMILLION : BLUE,
    });
    r.appendChild(el("svg:title", {}, `${b.label}: ${up ? "+" : "−"}${Math.abs(b.shap).toFixed(3)}`));
    s.appendChild(r);
    s.appendChild(el("svg:text", { x: x(Math.max(b.from, b.to)) + 4, y: T + row * (i + 1) + 16, "font-size": 10 }, (up ? "+" : "−") + Math.abs(b.shap).toFixed(3)));
  });
  label(bars.length + 1, "this client");
  s.appendChild(el("svg:circle", { cx: x(e.raw_score), cy: T + row * (bars.length + 1) + 12, r: 5, fill: INK }));
  return s;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = el("tr");
    cells.forEach((c) => tr.appendChild(el("td", {}, c)));
    return tr;
  }));
}

function facts(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function showError(where, message) {
  const box = $(where);
  box.textContent = message;
  box.hidden = false;
}

async function lookUp(id) {
  $("error").hidden = true;
  $("result").hidden = true;
  let info, e;
  try {
    [info, e] = await Promise.all([api(`/v1/clients/${id}`), api(`/v1/clients/${id}/explanation?top=10`)]);
  } catch (err) {
    showError("error", err.status === 404 ? `No client ${id} in the data.` : err.message);
    $("client-id").focus();
    return;
  }
  const s = e.score;
  const decision = s.decision;
  $("gauge").replaceChildren(gauge(s.probability, s.threshold, decision));
  const badge = $("decision-badge");
  badge.textContent = decision === "refused" ? "✗ Refused" : "✓ Granted";
  badge.className = "badge " + decision;
  $("probability").textContent = pct(s.probability);
  $("threshold").textContent = pct(s.threshold);
  $("distance").textContent = points(s.distance) + (s.band === "review" ? " (close: review by hand)" : "");
  $("reasons").replaceChildren(...(e.reasons.length ? e.reasons : []).map((r) => el("li", {}, r.sentence)));
  if (!e.reasons.length) $("reasons").appendChild(el("li", {}, "No input pushes this client towards default."));
  $("notice-row").hidden = decision !== "refused";
  $("notice-error").hidden = true;
  $("waterfall").replaceChildren(waterfall(e, 10));
  fill($("contributions").querySelector("tbody"),
    [...e.contributions].sort((a, b) => Math.abs(b.shap) - Math.abs(a.shap)).slice(0, 20)
      .map((c) => [c.text || c.feature, c.value === null ? "missing" : String(c.value), (c.shap >= 0 ? "+" : "−") + Math.abs(c.shap).toFixed(3)]));
  const pairs = Object.entries(info.fields || {}).map(([k, v]) => [k, v === null ? "–" : String(v)]);
  if (info.age_years !== undefined) pairs.unshift(["Age (years)", String(info.age_years)]);
  if (info.years_employed !== undefined) pairs.unshift(["Years employed", info.years_employed === null ? "not employed" : String(info.years_employed)]);
  facts($("info"), pairs);
  whatIfForm(info);
  $("whatif-result").hidden = true;
  $("whatif-error").hidden = true;
  loadRecourse(id, decision === "refused");
  $("compare-result").hidden = true;
  $("result").hidden = false;
  current = id;
  await fillFeatureChoices();
  await compare();
}

// The adverse-action notice as a printable page (fetched with the API key, shown from memory).
async function printNotice() {
  const headers = {};
  const key = $("api-key").value.trim();
  if (key) headers["X-API-Key"] = key;
  try {
    const r = await fetch(`/v1/clients/${current}/notice?format=html`, { headers });
    if (!r.ok) throw new Error("the server answered " + r.status);
    const url = URL.createObjectURL(new Blob([await r.text()], { type: "text/html" }));
    window.open(url, "_blank");
  } catch (err) {
    showError("notice-error", err.message);
  }
}

let current = null;
const WHAT_IF = ["AMT_INCOME_TOTAL", "AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE"];

// The editable figures: the Home Credit amounts, or a single table's first numeric fields.
function whatIfForm(info) {
  const fields = info.fields || {};
  let names = WHAT_IF.filter((n) => typeof fields[n] === "number");
  if (!names.length) names = Object.keys(fields).filter((n) => typeof fields[n] === "number").slice(0, 6);
  $("whatif-fields").replaceChildren(...names.map((n) => {
    const div = el("div");
    div.appendChild(el("label", { for: "whatif-" + n }, n));
    const input = el("input", { id: "whatif-" + n, name: n, inputmode: "decimal", "data-original": String(fields[n]) });
    input.value = String(fields[n]);
    div.appendChild(input);
    return div;
  }));
}

async function whatIf() {
  $("whatif-error").hidden = true;
  const changes = {};
  for (const input of $("whatif-fields").querySelectorAll("input")) {
    const v = input.value.trim();
    if (v === input.dataset.original) continue;
    const n = Number(v);
    if (v === "" || !Number.isFinite(n)) {
      showError("whatif-error", `${input.name}: "${v}" is not a number.`);
      input.focus();
      return;
    }
    changes[input.name] = n;
  }
  let r;
  try { r = await api(`/v1/clients/${current}/whatif`, { changes }); } catch (err) { showError("whatif-error", err.message); return; }
  $("whatif-probability").textContent = pct(r.after.probability);
  $("whatif-probability").dataset.changes = JSON.stringify(changes);
  $("whatif-decision").textContent = r.after.decision === "refused" ? "✗ Refused" : "✓ Granted";
  $("whatif-change").textContent = points(r.change) + (r.after.decision !== r.before.decision ? " — the decision changes" : " — same decision");
  $("whatif-result").hidden = false;
}

// A refused client's recourse: the options as cards, each applied to the what-if in one click.
async function loadRecourse(id, refused) {
  const section = $("recourse-section");
  section.hidden = !refused;
  $("recourse-error").hidden = true;
  $("recourse-options").replaceChildren();
  $("recourse-status").textContent = "";
  if (!refused) return;
  $("recourse-status").textContent = "Searching…";
  let r;
  try { r = await api(`/v1/clients/${id}/recourse?k=2`); } catch (err) {
    $("recourse-status").textContent = "";
    showError("recourse-error", err.message);
    return;
  }
  if (current !== id) return;
  const unit = r.cost === "relative" ? "relative change" : "percentile points";
  $("recourse-status").textContent = {
    found: `${r.options.length} option${r.options.length > 1 ? "s" : ""}, the cheapest first` +
      (r.proven_optimal ? " (proven the cheapest on the model)." : " (time budget reached: the best found, not proven the cheapest)."),
    no_recourse: "No change to at most two of these figures would have the application granted: checked on every value the model distinguishes.",
    unknown: "No option found within the time allowed; none is ruled out.",
    no_actions: "No figure of this application can be changed: the model has no action set.",
    granted: "Granted already.",
  }[r.status] || r.status;
  $("recourse-options").replaceChildren(...r.options.map((o, k) => {
    const li = el("li", { class: "card" });
    li.appendChild(el("p", {}, o.sentence));
    li.appendChild(el("p", { class: "help" }, `Default probability ${pct(o.probability)} · cost ${o.cost.toFixed(2)} ${unit}`));
    const b = el("button", { type: "button", class: "apply-option", "aria-label": `Apply option ${k + 1} to the what-if` }, "Apply to the what-if");
    b.addEventListener("click", () => applyOption(o));
    li.appendChild(b);
    return li;
  }));
}

// An option's values in the what-if form (a field the form lacks is added), then re-scored.
function applyOption(o) {
  for (const input of $("whatif-fields").querySelectorAll("input")) input.value = input.dataset.original;
  for (const c of o.changes) {
    let input = $("whatif-" + c.field);
    if (!input) {
      const div = el("div");
      div.appendChild(el("label", { for: "whatif-" + c.field }, c.field));
      input = el("input", { id: "whatif-" + c.field, name: c.field, inputmode: "decimal", "data-original": String(c.from) });
      div.appendChild(input);
      $("whatif-fields").appendChild(div);
    }
    input.value = String(c.to);
  }
  $("whatif-heading").scrollIntoView();
  whatIf();
}

let choices = null;
async function fillFeatureChoices() {
  if (choices) return;
  let m;
  try { m = await api("/v1/model"); } catch (err) { showError("compare-error", err.message); return; }
  choices = m.global_importance.slice(0, 30);
  for (const [sel, pick] of [["compare-feature", 0], ["compare-other", 1]]) {
    $(sel).replaceChildren(...choices.map((c, k) => {
      const o = el("option", { value: c.feature }, c.text || c.feature);
      if (k === pick) o.selected = true;
      return o;
    }));
  }
}

function histogram(c) {
  const W = 520, H = 300, L = 50, R = 14, T = 24, B = 42, n = c.edges.length - 1;
  const share = (k) => c.counts[k].map((v) => v / Math.max(1, c.clients[k]));
  const series = [["all", "all clients", INK, ""], ["granted", "granted", BLUE, "6 3"], ["refused", "refused", VERMILLION, "2 3"], ["similar", "similar clients", "#009E73", "8 3 2 3"]];
  const top = Math.max(...series.flatMap(([k]) => share(k)), 1e-9);
  const x = (v) => L + (W - L - R) * (v - c.edges[0]) / (c.edges[n] - c.edges[0]);
  const y = (v) => H - B - (H - B - T) * v / top;
  const desc = `Share of clients in each range of ${c.text}: ` + series.map(([k, name]) =>
    `${name} (${c.clients[k]} clients, median ${c.medians[k] === null ? "–" : c.medians[k].toPrecision(4)})`).join("; ") +
    (c.value === null ? "; the client has no value." : `; the client's value is ${c.value.toPrecision(4)}.`);
  const s = svg(W, H, `Where the client stands on ${c.text}`, desc);
  series.forEach(([k, name, colour, dash], idx) => {
    const pts = share(k).map((v, b) => `${x((c.edges[b] + c.edges[b + 1]) / 2).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    s.appendChild(el("svg:polyline", { points: pts, fill: "none", stroke: colour, "stroke-width": 2, "stroke-dasharray": dash }));
    s.appendChild(el("svg:line", { x1: L + 110 * idx, x2: L + 110 * idx + 22, y1: 12, y2: 12, stroke: colour, "stroke-width": 2, "stroke-dasharray": dash }));
    s.appendChild(el("svg:text", { x: L + 110 * idx + 26, y: 16, "font-size": 11 }, name));
  });
  if (c.value !== null) {
    s.appendChild(el("svg:line", { x1: x(c.value), x2: x(c.value), y1: T, y2: H - B, stroke: INK, "stroke-width": 2 }));
    s.appendChild(el("svg:text", { x: x(c.value), y: H - B + 28, "text-anchor": "middle", "font-size": 11, "font-weight": "bold" }, "this client"));
  }
  s.appendChild(el("svg:text", { x: L, y: H - B + 14, "font-size": 10, fill: GREY }, c.edges[0].toPrecision(3)));
  s.appendChild(el("svg:text", { x: W - R, y: H - B + 14, "font-size": 10, fill: GREY, "text-anchor": "end" }, c.edges[n].toPrecision(3)));
  return s;
}

function scatter(c) {
  const sc = c.scatter, W = 520, H = 300, L = 50, R = 14, T = 24, B = 42;
  const xs = sc.points.map((p) => p[0]).concat(sc.client[0] ?? []), ys = sc.points.map((p) => p[1]).concat(sc.client[1] ?? []);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const x = (v) => L + (W - L - R) * (v - x0) / ((x1 - x0) || 1);
  const y = (v) => H - B - (H - B - T) * (v - y0) / ((y1 - y0) || 1);
  const refused = sc.points.filter((p) => p[2] === 1).length;
  const desc = `${sc.points.length} clients by ${c.text} (across) and ${sc.text} (up): ${sc.points.length - refused} granted as circles, ` +
    `${refused} refused as crosses; the client ` + (sc.client[0] === null || sc.client[1] === null ? "has no value on one of them." : `is at ${sc.client[0].toPrecision(4)}, ${sc.client[1].toPrecision(4)} (black diamond).`);
  const s = svg(W, H, `${c.text} against ${sc.text}`, desc);
  for (const [a, b, r] of sc.points) {
    if (r === 1) s.appendChild(el("svg:path", { d: `M${x(a) - 3},${y(b) - 3}l6,6m0,-6l-6,6`, stroke: VERMILLION, "stroke-width": 1.3 }));
    else s.appendChild(el("svg:circle", { cx: x(a), cy: y(b), r: 2.6, fill: "none", stroke: BLUE }));
  }
  if (sc.client[0] !== null && sc.client[1] !== null) {
    s.appendChild(el("svg:path", { d: `M${x(sc.client[0])},${y(sc.client[1]) - 8}l8,8l-8,8l-8,-8z`, fill: INK, stroke: "#fff", "stroke-width": 1.5 }));
  }
  s.appendChild(el("svg:text", { x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle", "font-size": 11 }, c.text.slice(0, 60)));
  s.appendChild(el("svg:text", { x: 12, y: T - 8, "font-size": 11 }, "↑ " + sc.text.slice(0, 60)));
  return s;
}

async function compare() {
  $("compare-error").hidden = true;
  if (!choices || current === null) return;
  const f = encodeURIComponent($("compare-feature").value), o = encodeURIComponent($("compare-other").value);
  let c;
  try { c = await api(`/v1/clients/${current}/compare?feature=${f}&other=${o}`); } catch (err) { showError("compare-error", err.message); return; }
  const med = (k) => (c.medians[k] === null ? "–" : c.medians[k].toPrecision(4));
  $("compare-summary").textContent = (c.value === null
    ? `The client has no value for ${c.text}.`
    : `The client's ${c.text} is ${c.value.toPrecision(4)}: higher than or equal to ${pct(c.percentile)} of clients.`) +
    ` Median: granted ${med("granted")}, refused ${med("refused")}, similar clients ${med("similar")}.`;
  $("compare-hist").replaceChildren(histogram(c));
  $("compare-scatter").replaceChildren(c.scatter ? scatter(c) : "");
  fill($("compare-table").querySelector("tbody"), c.counts.all.map((_, b) => [
    c.edges[b].toPrecision(4), c.edges[b + 1].toPrecision(4),
    String(c.counts.all[b]), String(c.counts.granted[b]), String(c.counts.refused[b]), String(c.counts.similar[b])]));
  $("compare-result").hidden = false;
}

async function loadModel() {
  let m;
  try { m = await api("/v1/model"); } catch (err) { showError("model-error", err.message); return; }
  $("model-error").hidden = true;
  const auc = m.metrics && m.metrics.cv_auc;
  const e = m.metrics && m.metrics.estimate;
  const range = (i, d) => `95 %: ${i.low.toFixed(d)} to ${i.high.toFixed(d)}`;
  const expect = e ? [
    [`AUC on new applicants (${e.method}, ${e.selection_aware ? "honest" : "selection-biased"})`,
      `${e.auc.toFixed(4)} (${range(e.auc_prediction, 3)}, for ${e.new_batch} applicants)`],
    ["Cost per client on new applicants", `${e.cost_per_client.toFixed(4)} (${range(e.cost_prediction, 3)})`],
    ["Approval rate on new applicants", pct(e.approval_rate)],
  ] : [];
  facts($("model-facts"), [
    ["Model version", m.model_version],
    ...expect,
    ["Cross-validated AUC (selection-biased)", auc === undefined ? "–" : auc.toFixed(4)],
    ["Decision threshold", pct(m.threshold)],
    ["Imbalance strategy", String(m.strategy)],
    ["Clients in the data", String(m.clients)],
  ]);
  const names = { roc_auc: "AUC", pr_auc: "Precision-recall AUC", cost_per_client: "Cost per client",
    recall: "Recall (defaulters refused)", precision: "Precision (refused who default)", f2: "F2", brier: "Brier score", ks: "Kolmogorov-Smirnov" };
  fill($("metrics").querySelector("tbody"), ((m.metrics && m.metrics.mean) || []).map(([k, v]) =>
    [names[k] || k, v.mean.toFixed(4), v.std.toFixed(4)]));
  const c = m.cost || {};
  fill($("cost").querySelector("tbody"), [
    ["A defaulter granted a loan (missed default)", String(c.fn_cost)],
    ["A good client refused", String(c.fp_cost)],
    ["A defaulter refused", String(c.tp_cost)],
    ["A good client granted", String(c.tn_cost)],
  ]);
  const imp = m.global_importance.slice(0, 15);
  const max = Math.max(...imp.map((i) => i.gain), 1e-12);
  const LW = 320, W = 720, row = 22, H = 20 + row * imp.length;
  const s = svg(W, H, "Global importance (total gain)",
    imp.map((i, k) => `${k + 1}. ${i.text || i.feature}`).join("; "));
  imp.forEach((i, k) => {
    s.appendChild(el("svg:text", { x: LW - 8, y: 16 + row * k, "text-anchor": "end", "font-size": 11 }, (i.text || i.feature).slice(0, 50)));
    s.appendChild(el("svg:rect", { x: LW, y: 4 + row * k, width: (W - LW - 10) * i.gain / max, height: row - 8, fill: BLUE }));
  });
  $("importance").replaceChildren(s);
  await loadFairness();
  await loadMonitor();
  await loadOversight();
}

// Estimated (CBPE) and realized performance by chunk of decisions, with the alert band.
async function loadMonitor() {
  let m;
  try { m = await api("/v1/monitor?chunk_size=500"); } catch (err) {
    $("monitor-note").textContent = err.status === 409 ? "This model has no out-of-fold predictions to estimate against." : err.message;
    $("monitor").replaceChildren();
    return;
  }
  $("monitor-note").textContent = `${m.decisions} decisions, ${m.labelled} with an outcome. Estimated figures need no outcome ` +
    `(NannyML's confidence-based estimation); realized ones appear as outcomes are recorded. ` +
    `Cross-validated: AUC ${m.baseline.cv_auc.toFixed(3)}, cost per client ${m.baseline.cost_per_client.toFixed(3)}.`;
  if (!m.estimated.length) { $("monitor").replaceChildren(); return; }
  const band = m.bands[5], W = 560, H = 200, L = 50, n = m.estimated.length;
  const vals = m.estimated.flatMap((c) => [c.estimated.cost, c.realized ? c.realized.cost : null]).concat([band.lower, band.upper]).filter((v) => v !== null && isFinite(v));
  const lo = Math.min(...vals), hi = Math.max(...vals), span = hi - lo || 1;
  const x = (i) => L + (W - L - 20) * (n > 1 ? i / (n - 1) : 0.5), y = (v) => H - 30 - (H - 50) * (v - lo) / span;
  const s = svg(W, H, "Estimated and realized cost per client by chunk of decisions",
    m.estimated.map((c, i) => `chunk ${i + 1}: estimated ${c.estimated.cost.toFixed(3)}` + (c.realized ? `, realized ${c.realized.cost.toFixed(3)}` : "") + (c.alerts.length ? " (alert)" : "")).join("; ") +
    `; alert band ${band.lower.toFixed(3)} to ${band.upper.toFixed(3)}`);
  for (const b of [band.lower, band.upper]) s.appendChild(el("svg:line", { x1: L, x2: W - 20, y1: y(b), y2: y(b), stroke: "#767676", "stroke-dasharray": "4 3" }));
  s.appendChild(el("svg:polyline", { fill: "none", stroke: BLUE, "stroke-width": 2, points: m.estimated.map((c, i) => `${x(i)},${y(c.estimated.cost)}`).join(" ") }));
  m.estimated.forEach((c, i) => { if (c.realized) s.appendChild(el("svg:circle", { cx: x(i), cy: y(c.realized.cost), r: 4, fill: INK })); });
  s.appendChild(el("svg:text", { x: 4, y: 14, "font-size": 11 }, "cost per client: estimated (line), realized (dots), alert band (dashed)"));
  const t = el("table", {});
  t.appendChild(el("caption", {}, "By chunk of decisions"));
  const head = el("tr", {});
  for (const h of ["Decisions", "AUC estimated", "AUC realized", "Cost estimated", "Cost realized", "Alerts"]) head.appendChild(el("th", { scope: "col" }, h));
  t.appendChild(el("thead", {})).appendChild(head);
  t.appendChild(el("tbody", {}));
  const f = (v) => (v === null || v === undefined || !isFinite(v)) ? "–" : v.toFixed(3);
  fill(t.querySelector("tbody"), m.estimated.map((c) => [`${c.start + 1}–${c.end}`,
    `${f(c.estimated.roc_auc)} ± ${f(c.sampling_error.roc_auc)}`, c.realized ? f(c.realized.roc_auc) : "–",
    `${f(c.estimated.cost)} ± ${f(c.sampling_error.cost)}`, c.realized ? f(c.realized.cost) : "–", c.alerts.join(", ") || "none"]));
  $("monitor").replaceChildren(s, t);
}

// Approval rates by group (a chart with its text alternative, and a table) and the disparity
// measures, per protected attribute and age band.
async function loadFairness() {
  let f;
  try { f = (await api("/v1/model/fairness")).fairness; } catch (err) {
    $("fairness-note").textContent = err.status === 404 ? "This model was trained before fairness was measured." : err.message;
    $("fairness").replaceChildren();
    return;
  }
  const rule = f.age_rule;
  $("fairness-note").textContent = `Out-of-fold decisions of ${f.rows} training applicants at the threshold ${pct(f.threshold)}; 95 % bootstrap intervals. ` +
    (rule ? (rule.age_features.length === 0 ? "Age is not a model input."
      : rule.raised === 0 ? `Age rule holds: no applicant aged 62 or more (of ${rule.elderly}) is scored down for age.`
        : `Age rule does not hold: ${rule.raised} of ${rule.elderly} applicants aged 62 or more are scored down for age.`) : "");
  const parts = [];
  for (const a of f.attributes) {
    parts.push(el("h4", {}, `${a.attribute} (${a.source})`));
    const LW = 160, W = 560, row = 24, H = 24 + row * a.groups.length;
    const s = svg(W, H, `Approval rate by ${a.attribute}`,
      a.groups.map((g) => `${g.group}: ${pct(g.approval_rate.value)} approved of ${g.count}`).join("; "));
    a.groups.forEach((g, k) => {
      s.appendChild(el("svg:text", { x: LW - 8, y: 18 + row * k, "text-anchor": "end", "font-size": 12 }, g.group));
      s.appendChild(el("svg:rect", { x: LW, y: 6 + row * k, width: (W - LW - 70) * g.approval_rate.value, height: row - 10, fill: BLUE }));
      s.appendChild(el("svg:text", { x: LW + (W - LW - 70) * g.approval_rate.value + 6, y: 18 + row * k, "font-size": 12 }, pct(g.approval_rate.value)));
    });
    parts.push(s);
    const t = el("table", {});
    t.appendChild(el("caption", {}, `Decisions by ${a.attribute}`));
    const head = el("tr", {});
    for (const h of ["Group", "Applicants", "Default rate", "Approval rate", "Good clients refused", "Defaulters refused", "Adverse impact ratio"]) head.appendChild(el("th", { scope: "col" }, h));
    t.appendChild(el("thead", {})).appendChild(head);
    t.appendChild(el("tbody", {}));
    fill(t.querySelector("tbody"), a.groups.map((g) => [g.group, String(g.count), pct(g.default_rate),
      `${pct(g.approval_rate.value)} (${pct(g.approval_rate.low)} to ${pct(g.approval_rate.high)})`,
      pct(g.false_positive_rate), pct(g.true_positive_rate),
      g.measured ? g.adverse_impact_ratio.toFixed(3) + (g.flagged ? " (under 0.8)" : "") : "too few to measure"]));
    parts.push(t);
    const m = (name, v) => `${name}: ${v ? `${v.value.toFixed(3)} (${v.low.toFixed(3)} to ${v.high.toFixed(3)})` : "–"}`;
    parts.push(el("p", {}, [m("demographic parity difference", a.demographic_parity_difference),
      m("ratio", a.demographic_parity_ratio), m("equalized odds difference", a.equalized_odds_difference),
      m("equal opportunity difference", a.equal_opportunity_difference)].join("; ")));
  }
  $("fairness").replaceChildren(...parts);
}

// The queue's size and age and the reviewers' override rates, on the model view.
async function loadOversight() {
  let r;
  try { r = await api("/v1/reviews?limit=1"); } catch (err) {
    $("oversight-note").textContent = err.message;
    $("oversight").replaceChildren();
    return;
  }
  const f = r.figures;
  $("oversight-note").textContent = `${f.pending} decisions wait for review` +
    (f.oldest_pending_seconds !== undefined ? `, the oldest for ${age(f.oldest_pending_seconds)}` : "") +
    `; ${f.decided} reviewed.`;
  if (!f.reviewers.length) { $("oversight").replaceChildren(); return; }
  const t = el("table", {});
  t.appendChild(el("caption", {}, "Reviews by reviewer"));
  const head = el("tr", {});
  for (const h of ["Reviewer", "Decided", "Refusals granted", "Grants refused", "Override rate"]) head.appendChild(el("th", { scope: "col" }, h));
  t.appendChild(el("thead", {})).appendChild(head);
  t.appendChild(el("tbody", {}));
  fill(t.querySelector("tbody"), f.reviewers.map((w) => [w.reviewer, String(w.decided),
    String(w.refused_to_granted), String(w.granted_to_refused), pct(w.override_rate)]));
  $("oversight").replaceChildren(t);
}

function age(seconds) {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

const WHY = { band: "close to the threshold", intake: "values outside the training data", refusal: "refusals are reviewed", audit: "drawn for audit" };
const DECIDED = { granted: "Granted", refused: "Refused" };
let reviewing = null;

// The review queue and the recent decisions, with the reviewer's key.
async function loadReviews() {
  const key = $("reviewer-key").value;
  $("reviews-error").hidden = true;
  let pending, decided;
  try {
    [pending, decided] = await Promise.all([api("/v1/reviews?status=pending&limit=200", undefined, key),
      api("/v1/reviews?status=decided&limit=20", undefined, key)]);
  } catch (err) {
    showError("reviews-error", err.status === 401 ? "Give your reviewer key to see the queue." : err.message);
    return;
  }
  const f = pending.figures;
  $("reviews-summary").textContent = `${f.pending} waiting` +
    (f.oldest_pending_seconds !== undefined ? `, the oldest for ${age(f.oldest_pending_seconds)}` : "") + `; ${f.decided} reviewed.`;
  const tbody = $("queue").querySelector("tbody");
  tbody.replaceChildren(...pending.items.map((r) => {
    const tr = el("tr", {});
    for (const c of [String(r.entry), r.client, age(Math.max(0, (Date.now() - Date.parse(r.queued_at)) / 1000)),
      r.why.map((w) => WHY[w] || w).join(", "), pct(r.probability), DECIDED[r.decision] || r.decision]) tr.appendChild(el("td", {}, c));
    const b = el("button", { type: "button", "aria-label": `Review entry ${r.entry}, client ${r.client}` }, "Review");
    b.addEventListener("click", () => openReview(r));
    tr.appendChild(el("td", {})).appendChild(b);
    return tr;
  }));
  if (!pending.items.length) {
    const tr = el("tr", {});
    tr.appendChild(el("td", { colspan: 7 }, "Nothing waits for review."));
    tbody.replaceChildren(tr);
  }
  fill($("decided").querySelector("tbody"), decided.items.map((r) => [String(r.entry), r.client,
    DECIDED[r.decision] || r.decision, (DECIDED[r.final_decision.decision] || r.final_decision.decision) + (r.final_decision.override ? " (changed)" : ""),
    r.final_decision.reviewer, r.final_decision.reason || "–"]));
}

// One review: the automated decision, its reasons (and, for a known client, the explanation),
// and the form.
async function openReview(r) {
  reviewing = r;
  $("review-error").hidden = true;
  $("review-form").reset();
  $("review-heading").textContent = `Entry ${r.entry}: client ${r.client}`;
  facts($("review-facts"), [
    ["Automated decision", DECIDED[r.decision] || r.decision],
    ["Default probability", pct(r.probability)],
    ["Why it is reviewed", r.why.map((w) => WHY[w] || w).join(", ")],
    ["Decided at", r.queued_at],
    ["Model version", r.model_version],
    ...(r.intake.length ? [["Unusual values", r.intake.join("; ")]] : []),
  ]);
  $("review-reasons").replaceChildren(...(r.reasons_in_words.length ? r.reasons_in_words : r.reasons).map((f) => el("li", {}, f)));
  $("review-waterfall").replaceChildren();
  $("review-detail").hidden = false;
  $("review-heading").focus();
  if (r.kind === "known" && /^[0-9]+$/.test(r.client)) {
    try {
      const e = await api(`/v1/clients/${r.client}/explanation?top=10`, undefined, $("reviewer-key").value);
      if (reviewing !== r) return;
      if (e.reasons.length) $("review-reasons").replaceChildren(...e.reasons.map((x) => el("li", {}, x.sentence)));
      $("review-waterfall").replaceChildren(waterfall(e, 10));
    } catch (_) { /* the entry's reasons stay */ }
  }
}

async function decideReview() {
  const r = reviewing;
  if (!r) return;
  const choice = document.querySelector("#review-form input[name=decision]:checked");
  if (!choice) { showError("review-error", "Choose Grant or Refuse."); return; }
  const reason = $("review-reason").value.trim();
  const body = { decision: choice.value };
  if (reason) body.reason = reason;
  try {
    const done = await api(`/v1/reviews/${r.entry}`, body, $("reviewer-key").value);
    reviewing = null;
    await loadReviews();
    $("reviews-summary").textContent = `Entry ${r.entry}: ${DECIDED[done.final_decision.decision]} by ${done.final_decision.reviewer}, recorded as entry ${done.final_decision.entry}. ` + $("reviews-summary").textContent;
    $("review-error").hidden = true;
    $("review-detail").hidden = true;
    $("reviews-heading").setAttribute("tabindex", "-1");
    $("reviews-heading").focus();
  } catch (err) {
    showError("review-error", err.message);
    (err.message.includes("reason") ? $("review-reason") : choice).focus();
  }
}

function route() {
  const view = location.hash === "#model" ? "model" : location.hash === "#reviews" ? "reviews" : "client";
  for (const v of ["client", "model", "reviews"]) {
    $("view-" + v).hidden = v !== view;
    if (v === view) $("nav-" + v).setAttribute("aria-current", "page");
    else $("nav-" + v).removeAttribute("aria-current");
  }
  if (view === "model") loadModel();
  if (view === "reviews") loadReviews();
}

$("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const id = $("client-id").value.trim();
  if (!/^[0-9]+$/.test(id)) { showError("error", "A client id is a whole number, e.g. 100001."); return; }
  history.replaceState(null, "", `#client-${id}`);
  lookUp(id);
});
$("whatif").addEventListener("submit", (ev) => { ev.preventDefault(); whatIf(); });
$("compare").addEventListener("submit", (ev) => { ev.preventDefault(); compare(); });
$("notice-print").addEventListener("click", printNotice);
$("reviewer").addEventListener("submit", (ev) => { ev.preventDefault(); loadReviews(); });
$("review-form").addEventListener("submit", (ev) => { ev.preventDefault(); decideReview(); });
window.addEventListener("hashchange", route);
route();
const m = /^#client-([0-9]+)$/.exec(location.hash);
if (m) { $("client-id").value = m[1]; lookUp(m[1]); }
