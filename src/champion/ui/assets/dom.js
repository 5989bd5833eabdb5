// champion dashboard: shared state, DOM and number helpers, the JSON client.
// Every number is shown as text (with its raw value in data-value) beside any chart, and
// every status is a word with a symbol, never a colour alone.
"use strict";

const API = "/ui/api";
const SVGNS = "http://www.w3.org/2000/svg";
const TOKEN_KEY = "champion-token";
const ui = { config: null, timer: null, sort: { key: "name", dir: 1 }, filter: "",
             rows: [], summaries: {}, view: null };

// -- small helpers ---------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const isNum = (x) => typeof x === "number" && isFinite(x);

function num(x, digits = 4) {
  if (!isNum(x)) return "–";
  if (x !== 0 && Math.abs(x) < 1e-3) return x.toExponential(2);
  return Number(x.toPrecision(digits)).toLocaleString("en-US", { maximumFractionDigits: 8 });
}
function int(x) { return isNum(x) ? Math.round(x).toLocaleString("en-US") : "–"; }
function pct(x, digits = 1) { return isNum(x) ? (100 * x).toFixed(digits) + "%" : "–"; }
function signedPct(x) { return isNum(x) ? (x > 0 ? "+" : "") + (100 * x).toFixed(1) + "%" : "–"; }
function ci(pair, f = num) {
  return Array.isArray(pair) ? `${f(pair[0])} to ${f(pair[1])}` : "–";
}
function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toISOString().replace("T", " ").slice(0, 19) + "Z";
}
// A cell holding a number: its text, and the raw value for anyone comparing.
function ncell(x, f = num, attrs = {}) {
  return h("td", { class: "n", "data-value": isNum(x) ? x : "", ...attrs }, f(x));
}

const STATUS_WORDS = {
  pass: ["✓", "pass"], fail: ["✗", "fail"], inconclusive: ["…", "inconclusive"],
  warn: ["!", "warning"], ok: ["✓", "ok"], mismatch: ["✗", "mismatch"],
  violation: ["✗", "violation"], no_data: ["…", "no data"],
};
function badge(kind, label) {
  const [mark, word] = STATUS_WORDS[kind] || ["•", kind];
  return h("span", { class: `badge b-${kind}` }, h("span", { "aria-hidden": "true" }, mark + " "),
           label || word);
}
function stateBadge(state) { return h("span", { class: `state st-${state}` }, state); }

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (token()) headers.Authorization = "Bearer " + token();
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(API + path, { ...options, headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  } catch (e) {
    return { ok: false, status: 0, body: null, message: "the server did not answer: " + e };
  }
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  const message = body && body.error ? body.error.message : response.statusText;
  return { ok: response.ok, status: response.status, body, message };
}

function say(text) { document.getElementById("status").textContent = text; }

function section(title, id, ...children) {
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

function table(caption, head, rows, attrs = {}) {
  return h("table", attrs, caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows));
}

function main() { return document.getElementById("main"); }

// Replace a slot's content only when what it shows has changed, so a poll leaves an opened
// "why" open, the focus where it was and the page where it was scrolled.
const shown = new WeakMap();
function keep(slot, data, build) {
  const key = JSON.stringify(data, (k, v) => (k === "computed_at" ? undefined : v));
  if (shown.get(slot) === key) return false;
  shown.set(slot, key);
  slot.replaceChildren(build());
  return true;
}
