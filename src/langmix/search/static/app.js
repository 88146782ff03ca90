// langmix search page: one column per index; results, language badges and the language-shares bar.
// Every text from the collection goes into textContent, never innerHTML: a passage is shown, not run.
"use strict";

const PALETTE = {
  en: "#4e79a7", de: "#f28e2b", es: "#e15759", ar: "#76b7b2", zh: "#59a14f", hi: "#edc948",
  vi: "#b07aa1", el: "#ff9da7", ru: "#9c755f", th: "#bab0ac", tr: "#86bcb6", ro: "#d37295",
};

function langColor(lang) {
  if (PALETTE[lang]) return PALETTE[lang];
  let hash = 0;
  for (const ch of lang) hash = (hash * 31 + ch.codePointAt(0)) % 360;
  return `hsl(${hash}, 45%, 55%)`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function badge(lang) {
  const node = el("span", "badge", lang);
  node.style.backgroundColor = langColor(lang);
  node.title = `language: ${lang}`;
  return node;
}

function column(info) {
  const section = el("section", "column");
  section.dataset.index = info.name;
  section.append(el("h2", "", info.name));
  const langs = Object.entries(info.languages).map(([lang, n]) => `${lang} ${n}`).join(", ");
  section.append(el("p", "about", `${info.model} · ${info.count.toLocaleString("en")} passages (${langs})`));
  section.append(el("div", "shares"), el("p", "shares-line"), el("ol", "hits"));
  return section;
}

function renderShares(section, result) {
  const bar = section.querySelector(".shares");
  bar.replaceChildren();
  for (const { lang, count } of result.shares) {
    const part = el("div", "share", `${lang} ${count}`);
    part.dataset.lang = lang;
    part.dataset.count = String(count);
    part.style.flexGrow = String(count);
    part.style.backgroundColor = langColor(lang);
    part.title = `${lang}: ${count} of ${result.k}`;
    bar.append(part);
  }
  const line = result.shares.map(({ lang, count }) => `${lang} ${count}`).join(", ");
  section.querySelector(".shares-line").textContent = `top-${result.k}: ${line}`;
}

function renderHits(section, result) {
  const list = section.querySelector(".hits");
  list.replaceChildren();
  for (const hit of result.hits) {
    const item = el("li", "hit");
    item.dataset.lang = hit.lang;
    const head = el("div", "hit-head");
    head.append(badge(hit.lang), el("span", "score", hit.score.toFixed(3)), el("span", "hit-id", hit.id));
    item.append(head);
    if (hit.title) item.append(el("p", "title", hit.title));
    const text = el("p", "text", hit.text);
    text.dir = "auto";
    item.append(text);
    list.append(item);
  }
}

function say(message, isError) {
  const box = document.getElementById("message");
  box.textContent = message;
  box.classList.toggle("error", Boolean(isError));
}

async function search(query, k) {
  const url = `/api/search?q=${encodeURIComponent(query)}&k=${encodeURIComponent(k)}`;
  say("Searching…");
  let data;
  try {
    const response = await fetch(url);
    data = await response.json();
    if (!response.ok) return say(data.error || `error ${response.status}`, true);
  } catch (err) {
    return say(`the server did not answer (${err.message})`, true);
  }
  for (const result of data.results) {
    const section = document.querySelector(`section.column[data-index="${CSS.escape(result.index)}"]`);
    renderShares(section, result);
    renderHits(section, result);
  }
  say(`top ${data.k} for “${data.query}”`);
  history.replaceState(null, "", `?q=${encodeURIComponent(query)}&k=${encodeURIComponent(k)}`);
}

// A k the menu lacks (a shared link with ?k=7) gets an entry of its own, brought into 1..max; one that is
// not a number keeps the menu's default.
function chooseK(select, wanted) {
  const k = Math.min(Number(select.dataset.max), Math.max(1, Math.round(Number(wanted))));
  if (!Number.isFinite(k)) return;
  const options = [...select.options];
  if (!options.some((option) => option.value === String(k))) {
    select.insertBefore(el("option", "", String(k)), options.find((option) => Number(option.value) > k) || null);
  }
  select.value = String(k);
}

async function start() {
  const columns = document.getElementById("columns");
  const infos = await (await fetch("/api/indexes")).json();
  columns.append(...infos.map(column));
  columns.classList.toggle("pair", infos.length > 1);
  const form = document.getElementById("search-form");
  const query = document.getElementById("query");
  const k = document.getElementById("k");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search(query.value, k.value);
  });
  const params = new URLSearchParams(location.search);
  if (params.get("k")) chooseK(k, params.get("k"));
  if (params.get("q")) {
    query.value = params.get("q");
    search(query.value, k.value);
  }
  document.body.dataset.ready = "true";
}

start();
