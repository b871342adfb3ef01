// The reader page: every configured feed with its live list, and the embed snippet generator.
import "../widget.js";
import { pushButton } from "./push.js";

const api = (path) => new URL(path, document.baseURI);
const $ = (id) => document.getElementById(id);
const h = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};
const attr = (v) => String(v).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

async function loadFeeds() {
  const r = await fetch(api("api/v1/feeds"), { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(`GET /api/v1/feeds: ${r.status}`);
  const j = await r.json();
  return Array.isArray(j) ? j : j.feeds || [];
}

function feedCard(f) {
  const ticker = document.createElement("breaking-ticker");
  for (const [k, v] of [["feed", f.id], ["mode", "list"], ["limit", "10"], ["lang", f.lang], ["dir", f.direction]]) {
    ticker.setAttribute(k, v);
  }
  const links = h("p", { className: "meta" },
    h("a", { href: api(`feeds/${f.id}.atom`).href, textContent: "Atom" }),
    h("a", { href: api(`feeds/${f.id}.json`).href, textContent: "JSON Feed" }),
    h("a", { href: api(`embed/${f.id}`).href, textContent: "Embed page" }),
    pushButton(f.id, f.lang));
  return h("article", { className: "card", lang: f.lang, dir: f.direction, id: `feed-${f.id}` },
    h("h2", { textContent: f.title }), links, ticker);
}

function checkboxes(fieldset, name, values) {
  fieldset.querySelectorAll("label").forEach((l) => l.remove());
  for (const v of values) {
    fieldset.append(h("label", {}, h("input", { type: "checkbox", name, value: v }), v));
  }
}

function snippetAttrs(form) {
  const data = new FormData(form);
  const attrs = [["feed", data.get("feed")]];
  for (const k of ["mode", "theme", "size", "max-urgency"]) if (data.get(k)) attrs.push([k, data.get(k)]);
  const label = String(data.get("label") || "").trim();
  if (label) attrs.push(["label", label]);
  for (const k of ["categories", "regions"]) {
    const v = data.getAll(k);
    if (v.length) attrs.push([k, v.join(",")]);
  }
  return attrs;
}

function updateSnippet(form, feeds) {
  const attrs = snippetAttrs(form);
  const script = api("widget.js").href;
  const tag = attrs.map(([k, v]) => ` ${k}="${attr(v)}"`).join("");
  $("snippet-script").value =
    `<script src="${attr(script)}" type="module"></script>\n<breaking-ticker${tag}></breaking-ticker>`;
  const q = new URLSearchParams(attrs.filter(([k]) => k !== "feed"));
  const src = api(`embed/${encodeURIComponent(attrs[0][1])}`);
  src.search = q.toString();
  const height = attrs.some(([k, v]) => k === "mode" && v === "list") ? 400 : 48;
  $("snippet-iframe").value = `<iframe src="${attr(src.href)}" title="Breaking news" ` +
    `style="width:100%;height:${height}px;border:0" loading="lazy"></iframe>`;
  const preview = document.createElement("breaking-ticker");
  for (const [k, v] of attrs) preview.setAttribute(k, v);
  const f = feeds.find((x) => x.id === attrs[0][1]);
  if (f) { preview.setAttribute("lang", f.lang); preview.setAttribute("dir", f.direction); }
  $("preview").replaceChildren(preview);
}

async function main() {
  let feeds;
  try {
    feeds = await loadFeeds();
  } catch (err) {
    $("feeds-status").textContent = `Could not load the feeds (${err.message}).`;
    $("feeds-status").className = "notice bad";
    return;
  }
  $("feeds-status").textContent = "";
  $("feeds").replaceChildren(...feeds.map(feedCard));

  const form = $("snippet-form");
  const select = $("s-feed");
  select.replaceChildren(...feeds.map((f) => h("option", { value: f.id, textContent: `${f.title} (${f.id})` })));
  const refill = () => {
    const f = feeds.find((x) => x.id === select.value) || { categories: [], regions: [] };
    checkboxes($("s-categories"), "categories", f.categories || []);
    checkboxes($("s-regions"), "regions", f.regions || []);
  };
  let timer = 0;
  const update = () => { clearTimeout(timer); timer = setTimeout(() => updateSnippet(form, feeds), 150); };
  select.addEventListener("change", refill);
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  form.addEventListener("submit", (e) => e.preventDefault());
  refill();
  updateSnippet(form, feeds);

  for (const b of document.querySelectorAll("[data-copy]")) {
    b.addEventListener("click", async () => {
      const area = $(b.dataset.copy);
      try {
        await navigator.clipboard.writeText(area.value);
        $("copy-status").textContent = "Copied.";
      } catch {
        area.select();
        $("copy-status").textContent = "Selected: press Ctrl+C (⌘C) to copy.";
      }
    });
  }
}

main();
