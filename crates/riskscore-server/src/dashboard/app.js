// The relationship managers' dashboard: plain JavaScript over the JSON API, no library, no
// network beyond this server. Every chart is an SVG with a title and a description, and has a
// table or a sentence with the same numbers.
"use strict";

const $ = (id) => document.getElementById(id);
const NS = "http://www.w3.org/2000/svg";
const BLUE = "#0072B2", VERMILLION = "#D55E00", INK = "#1a1a1a", GREY = "#6b6b6b";

function pct(p) { return (100 * p).toFixed(1) + " %"; }
function points(d) { return (d >= 0 ? "+" : "−") + Math.abs(100 * d).toFixed(1) + " points"; }

async function api(path) {
  const headers = {};
  const key = $("api-key").value.trim();
  if (key) headers["X-API-Key"] = key;
  const r = await fetch(path, { headers });
  let body = null;
  try { body = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok) {
    const msg = body && body.error ? body.error.message : "the server answered " + r.status;
    const err = new Error(msg);
    err.status = r.status;
    throw err;
  }
  return body;
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
  $("waterfall").replaceChildren(waterfall(e, 10));
  fill($("contributions").querySelector("tbody"),
    [...e.contributions].sort((a, b) => Math.abs(b.shap) - Math.abs(a.shap)).slice(0, 20)
      .map((c) => [c.text || c.feature, c.value === null ? "missing" : String(c.value), (c.shap >= 0 ? "+" : "−") + Math.abs(c.shap).toFixed(3)]));
  const pairs = Object.entries(info.fields || {}).map(([k, v]) => [k, v === null ? "–" : String(v)]);
  if (info.age_years !== undefined) pairs.unshift(["Age (years)", String(info.age_years)]);
  if (info.years_employed !== undefined) pairs.unshift(["Years employed", info.years_employed === null ? "not employed" : String(info.years_employed)]);
  facts($("info"), pairs);
  $("result").hidden = false;
}

async function loadModel() {
  let m;
  try { m = await api("/v1/model"); } catch (err) { showError("model-error", err.message); return; }
  $("model-error").hidden = true;
  const auc = m.metrics && m.metrics.cv_auc;
  facts($("model-facts"), [
    ["Model version", m.model_version],
    ["Cross-validated AUC", auc === undefined ? "–" : auc.toFixed(4)],
    ["Decision threshold", pct(m.threshold)],
    ["Imbalance strategy", String(m.strategy)],
    ["Clients in the data", String(m.clients)],
  ]);
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
}

function route() {
  const model = location.hash === "#model";
  $("view-client").hidden = model;
  $("view-model").hidden = !model;
  $("nav-client").toggleAttribute("aria-current", !model);
  $("nav-model").toggleAttribute("aria-current", model);
  if (model) { $("nav-model").setAttribute("aria-current", "page"); loadModel(); }
  else $("nav-client").setAttribute("aria-current", "page");
}

$("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const id = $("client-id").value.trim();
  if (!/^[0-9]+$/.test(id)) { showError("error", "A client id is a whole number, e.g. 100001."); return; }
  history.replaceState(null, "", `#client-${id}`);
  lookUp(id);
});
window.addEventListener("hashchange", route);
route();
const m = /^#client-([0-9]+)$/.exec(location.hash);
if (m) { $("client-id").value = m[1]; lookUp(m[1]); }
