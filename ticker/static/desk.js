// The correspondent desk: publish, correct and retract items through the public HTTP API.
import "../widget.js";

const $ = (id) => document.getElementById(id);
const api = (path) => new URL(path, document.baseURI);
const h = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};
const TOKEN_KEY = "ticker.desk.token";
const TEXT_MAX = 400;
const EDITABLE = ["text", "source", "urgency", "url"];

let feeds = [];
let claims = null;
let pending = null; // {key, json, feed, token}: reused while the same item is retried
let busy = false;
const mine = new Map(); // items published or changed in this tab, by id

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function decodeClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
    const c = JSON.parse(new TextDecoder().decode(bytes));
    return c && typeof c === "object" ? c : null;
  } catch {
    return null;
  }
}

const token = () => $("token").value.trim();
const mayWrite = (f) => !claims || !Array.isArray(claims.feeds) || claims.feeds.includes(f) || claims.feeds.includes("*");
const mayEdit = (it) => !claims || claims.role === "editor" || it.author === claims.sub;

function setToken(value, persist) {
  $("token").value = value;
  claims = value ? decodeClaims(value) : null;
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
  if (value) (persist ? localStorage : sessionStorage).setItem(TOKEN_KEY, value);
  $("err-token").textContent = value && !claims ? "This does not look like a ticker token." : "";
  if (claims) {
    const exp = claims.exp ? `, expires ${new Date(claims.exp * 1000).toLocaleString()}` : "";
    $("whoami").textContent = `Signed in as ${claims.sub} (${claims.role}; feeds: ${(claims.feeds || []).join(", ")}${exp})`;
  } else $("whoami").textContent = "Not signed in.";
  $("all-label").hidden = !(claims && claims.role === "editor");
  fillFeeds();
}

async function parse(res) {
  const type = res.headers.get("content-type") || "";
  if (!type.includes("json")) return { detail: (await res.text()).slice(0, 300) };
  try { return await res.json(); } catch { return {}; }
}

function capital(s) { return s ? s[0].toUpperCase() + s.slice(1) : s; }

function clearErrors(form) {
  for (const e of form.querySelectorAll("[data-err]")) e.textContent = "";
  for (const e of form.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
}

function fieldError(form, field, message) {
  const slot = form.querySelector(`[data-err="${field}"]`);
  if (!slot) return false;
  slot.textContent = slot.textContent ? `${slot.textContent} ${capital(message)}` : capital(message);
  const input = form.querySelector(`[name="${field}"]`) || (field === "regions" ? $("regions") : null);
  input?.setAttribute("aria-invalid", "true");
  return true;
}

// Shows a problem+json answer: each field error next to its field, the rest in the notice.
function showProblem(form, notice, res, data) {
  const general = [];
  if (res.status === 401) fieldError(document.body, "token", data.detail || data.title || "The token was refused.");
  else if (res.status === 403) {
    if (!fieldError(form, "feed", data.detail || "This token may not do that.")) general.push(data.detail || data.title);
  } else if (res.status === 404 && form.querySelector('[data-err="feed"]') && /feed/i.test(data.detail || "")) {
    fieldError(form, "feed", data.detail);
  }
  let first = null;
  for (const e of data.errors || []) {
    const m = /^\$\.([a-z_]+)/.exec(e.path || "");
    if (m && fieldError(form, m[1], e.message)) first ??= form.querySelector(`[name="${m[1]}"]`);
    else general.push(`${e.path}: ${e.message}`);
  }
  if (res.status === 429 || res.status === 503) {
    const after = res.headers.get("retry-after");
    general.push(`${data.title || "Try again later"}.${after ? ` Retry in ${after} s` : ""} — it will not post twice.`);
  } else if (![401, 403].includes(res.status) && !(data.errors || []).length) {
    general.push(data.detail || data.title || `The server answered ${res.status}.`);
  }
  notice.textContent = general.filter(Boolean).join(" ") || `Not saved (${res.status}): see the marked fields.`;
  notice.className = "notice bad";
  first?.focus();
}

function fillFeeds() {
  const select = $("feed");
  const keep = select.value;
  const usable = feeds.filter((f) => mayWrite(f.id));
  select.replaceChildren(...(usable.length ? usable : feeds).map((f) =>
    h("option", { value: f.id, textContent: `${f.title} (${f.id})` })));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  feedChanged();
}

function feedChanged() {
  const f = feeds.find((x) => x.id === $("feed").value);
  if (!f) return;
  $("category").replaceChildren(h("option", { value: "", textContent: "— none —" }),
    ...(f.categories || []).map((c) => h("option", { value: c, textContent: c })));
  const fs = $("regions");
  fs.querySelectorAll("label").forEach((l) => l.remove());
  for (const r of f.regions || []) fs.append(h("label", {}, h("input", { type: "checkbox", name: "regions", value: r }), r));
  for (const id of ["text", "source"]) $(id).lang = f.lang;
  const live = document.createElement("breaking-ticker");
  for (const [k, v] of [["feed", f.id], ["mode", "list"], ["limit", "8"], ["lang", f.lang], ["dir", f.direction]]) {
    live.setAttribute(k, v);
  }
  for (const t of ["ticker-item", "ticker-update", "ticker-retract"]) live.addEventListener(t, refreshSoon);
  $("live").replaceChildren(live);
  loadRecent();
}

function count() {
  const n = [...$("text").value.normalize("NFC").trim()].length;
  $("text-count").textContent = `${n} / ${TEXT_MAX}`;
  $("text-count").classList.toggle("over", n > TEXT_MAX);
}

function collect() {
  const body = { text: $("text").value };
  const source = $("source").value.trim();
  if (source) body.source = source;
  body.urgency = Number($("urgency").value);
  if ($("category").value) body.category = $("category").value;
  body.regions = [...document.querySelectorAll('#regions input:checked')].map((i) => i.value);
  const url = $("url").value.trim();
  if (url) body.url = url;
  return body;
}

async function publish(event) {
  event.preventDefault();
  if (busy) return; // a double tap while the first request is in flight does nothing
  const form = $("post-form"), notice = $("post-status"), button = $("publish");
  clearErrors(form);
  clearErrors($("token-form"));
  if (!token()) {
    fieldError(document.body, "token", "Paste your token first.");
    $("token").focus();
    return;
  }
  const feed = $("feed").value;
  const json = JSON.stringify(collect());
  if (!pending || pending.json !== json || pending.feed !== feed || pending.token !== token()) {
    pending = { key: newKey(), json, feed, token: token() };
  }
  busy = true;
  button.disabled = true;
  notice.className = "notice";
  notice.textContent = "Publishing…";
  try {
    const res = await fetch(api(`api/v1/feeds/${encodeURIComponent(feed)}/items`), {
      method: "POST",
      headers: {
        Authorization: `Bearer ${pending.token}`,
        "Content-Type": "application/json",
        "Idempotency-Key": pending.key,
        Accept: "application/json, application/problem+json",
      },
      body: json,
    });
    const data = await parse(res);
    if (res.ok) {
      pending = null;
      mine.set(data.id, data);
      for (const id of ["text", "source", "url"]) $(id).value = "";
      count();
      notice.className = "notice ok";
      notice.textContent = res.status === 200 ? "Already published: this was a retry of the same item." : "Published.";
      renderRecent(lastItems);
      refreshSoon();
    } else {
      if (![408, 429, 500, 502, 503, 504].includes(res.status)) pending = null;
      showProblem(form, notice, res, data);
    }
  } catch {
    notice.className = "notice bad";
    notice.textContent = "No answer from the server. Press Publish again to retry: the item will not be posted twice.";
  } finally {
    busy = false;
    button.disabled = false;
  }
}

let lastItems = [];
let refreshTimer = 0;
function refreshSoon() { clearTimeout(refreshTimer); refreshTimer = setTimeout(loadRecent, 300); }

async function loadRecent() {
  const feed = $("feed").value;
  if (!feed) return;
  try {
    const res = await fetch(api(`api/v1/feeds/${encodeURIComponent(feed)}/items?limit=100`));
    const j = await res.json();
    if (!res.ok) throw new Error(j.detail || j.title || res.status);
    lastItems = (Array.isArray(j) ? j : j.items || []).filter((x) => x && x.id);
    $("recent-status").textContent = "";
  } catch (err) {
    $("recent-status").textContent = `Could not load recent items (${err.message}).`;
    $("recent-status").className = "notice bad";
  }
  renderRecent(lastItems);
}

function renderRecent(items) {
  const feed = $("feed").value;
  const all = $("all-authors").checked;
  const byId = new Map(items.map((i) => [i.id, i]));
  for (const [id, it] of mine) {
    if (it.feed === feed && (!byId.has(id) || (byId.get(id).version || 0) < (it.version || 0) || it.status === "canceled")) byId.set(id, it);
  }
  const list = [...byId.values()]
    .filter((it) => all || !claims || it.author === claims.sub)
    .sort((a, b) => (b.published_at || "").localeCompare(a.published_at || ""))
    .slice(0, 30);
  // a row being corrected is kept as it is, so a refresh never throws away what is being typed
  const editing = new Map([...$("recent").querySelectorAll("li.editing")].map((li) => [li.dataset.id, li]));
  $("recent").replaceChildren(...list.map((it) => (it.status !== "canceled" && editing.get(it.id)) || itemRow(it)));
  if (!list.length) $("recent").append(h("li", { className: "hint", textContent: "Nothing published yet." }));
}

function itemRow(it) {
  const when = new Date(it.published_at);
  const meta = `${Number.isNaN(+when) ? "" : when.toLocaleTimeString()} · urgency ${it.urgency}` +
    `${it.category ? ` · ${it.category}` : ""} · v${it.version} · ${it.author}${it.status === "canceled" ? " · retracted" : ""}`;
  const text = h("p", { className: "text" });
  if (it.source) text.append(h("bdi", { textContent: it.source }), ": ");
  text.append(h("bdi", { textContent: it.text }));
  const li = h("li", { className: it.status === "canceled" ? "canceled" : "" },
    h("p", { className: "meta", textContent: meta }), text);
  li.dataset.id = it.id;
  if (it.status !== "canceled" && mayEdit(it)) {
    const correct = h("button", { type: "button", className: "correct", textContent: "Correct" });
    const retract = h("button", { type: "button", className: "retract", textContent: "Retract" });
    const notice = h("p", { className: "notice", role: "status" });
    correct.addEventListener("click", () => openEditor(li, it, notice));
    let armed = 0;
    retract.addEventListener("click", async () => {
      if (!armed) { // two presses, so a stray tap cannot pull a story
        retract.textContent = "Press again to retract";
        armed = setTimeout(() => { armed = 0; retract.textContent = "Retract"; }, 5000);
        return;
      }
      clearTimeout(armed);
      retract.disabled = true;
      await change("DELETE", it, null, li, notice);
      retract.disabled = false;
    });
    li.append(h("div", { className: "row" }, correct, retract), notice);
  }
  return li;
}

function openEditor(li, it, notice) {
  li.querySelector("form.edit")?.remove();
  li.classList.add("editing");
  const uid = `e${it.id.replace(/[^A-Za-z0-9_-]/g, "")}`;
  const field = (name, label, input) => {
    input.name = name;
    input.id = `${uid}-${name}`;
    const err = h("p", { className: "error", id: `${uid}-err-${name}` });
    err.dataset.err = name;
    input.setAttribute("aria-describedby", err.id);
    return h("div", { className: "field" }, h("label", { htmlFor: input.id, textContent: label }), input, err);
  };
  const urgency = h("select", {}, ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => h("option", { value: String(n), textContent: String(n) })));
  urgency.value = String(it.urgency);
  const form = h("form", { className: "edit", noValidate: true },
    field("text", "Text", h("textarea", { rows: 3, dir: "auto", value: it.text })),
    field("source", "Source", h("input", { type: "text", dir: "auto", value: it.source || "" })),
    field("urgency", "Urgency", urgency),
    field("url", "Link", h("input", { type: "url", value: it.url || "" })),
    h("div", { className: "row" },
      h("button", { type: "submit", className: "primary", textContent: "Save correction" }),
      h("button", { type: "button", className: "cancel", textContent: "Cancel" })));
  form.querySelector(".cancel").addEventListener("click", () => { form.remove(); li.classList.remove("editing"); });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {};
    for (const name of EDITABLE) {
      const raw = form.elements[name].value;
      const value = name === "urgency" ? Number(raw) : raw.trim();
      const before = name === "urgency" ? it.urgency : it[name] || "";
      if (value !== before) body[name] = value === "" && name !== "text" ? null : value;
    }
    if (!Object.keys(body).length) { notice.textContent = "Nothing changed."; notice.className = "notice"; return; }
    const button = form.querySelector('[type="submit"]');
    button.disabled = true;
    await change("PATCH", it, body, li, notice, form);
    button.disabled = false;
  });
  li.insertBefore(form, notice);
  form.elements.text.focus();
}

async function change(method, it, body, li, notice, form = null) {
  if (!token()) { fieldError(document.body, "token", "Paste your token first."); return; }
  if (form) clearErrors(form);
  notice.className = "notice";
  notice.textContent = method === "DELETE" ? "Retracting…" : "Saving…";
  try {
    const headers = { Authorization: `Bearer ${token()}`, Accept: "application/json, application/problem+json" };
    if (body) headers["Content-Type"] = "application/json";
    const res = await fetch(api(`api/v1/feeds/${encodeURIComponent(it.feed)}/items/${encodeURIComponent(it.id)}`), {
      method, headers, body: body ? JSON.stringify(body) : undefined,
    });
    const data = await parse(res);
    if (!res.ok) return showProblem(form || li, notice, res, data);
    mine.set(data.id, data);
    li.classList.remove("editing");
    renderRecent(lastItems);
    refreshSoon();
  } catch {
    notice.className = "notice bad";
    notice.textContent = "No answer from the server; try again.";
  }
}

async function main() {
  $("token").value = localStorage.getItem(TOKEN_KEY) || sessionStorage.getItem(TOKEN_KEY) || "";
  $("remember").checked = Boolean(localStorage.getItem(TOKEN_KEY));
  $("token").addEventListener("change", () => setToken(token(), $("remember").checked));
  $("remember").addEventListener("change", () => setToken(token(), $("remember").checked));
  $("forget").addEventListener("click", () => { setToken("", false); $("remember").checked = false; });
  $("token-form").addEventListener("submit", (e) => { e.preventDefault(); setToken(token(), $("remember").checked); });
  $("feed").addEventListener("change", feedChanged);
  $("text").addEventListener("input", count);
  $("post-form").addEventListener("submit", publish);
  $("refresh").addEventListener("click", loadRecent);
  $("all-authors").addEventListener("change", () => renderRecent(lastItems));
  try {
    const res = await fetch(api("api/v1/feeds"));
    const j = await res.json();
    feeds = Array.isArray(j) ? j : j.feeds || [];
  } catch {
    $("post-status").textContent = "Could not load the feeds; is the service up?";
    $("post-status").className = "notice bad";
  }
  setToken(token(), $("remember").checked); // typed or pasted while the feeds loaded, or saved
  count();
}

main();
