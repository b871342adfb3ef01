// The correspondent desk: publish, correct, retract, hold, release, pin and schedule items
// through the public HTTP API.
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
const EDITABLE = ["text", "source", "urgency", "url", "expires", "embargoed_until", "note"];
const TIMES = ["expires", "embargoed_until"]; // datetime-local inputs, sent as RFC 3339 UTC
const WAITING = ["scheduled", "submitted"]; // desk-only statuses: listed under "Scheduled"

let feeds = [];
let claims = null;
let pending = null; // {key, json, feed, token}: reused while the same item is retried
let busy = false;
let pinnedId = null; // the feed's pinned item, as the live ticker below reports it
const mine = new Map(); // items published or changed in this tab, by id

// <input type="datetime-local"> speaks local wall-clock time; the API speaks RFC 3339 UTC
const fromLocal = (v) => {
  const d = v ? new Date(v) : null;
  return d && !Number.isNaN(+d) ? d.toISOString() : null;
};
const toLocal = (iso) => {
  const d = iso ? new Date(iso) : null;
  if (!d || Number.isNaN(+d)) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
};
const clock = (iso) => new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "medium" });
// "in 4 min 05 s": what a countdown says about a time `ms` from now
function countdown(ms) {
  if (ms <= 0) return "due now";
  const s = Math.ceil(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `in ${h} h ${pad(m)} min` : m ? `in ${m} min ${pad(r)} s` : `in ${r} s`;
}

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
const isEditor = () => !claims || claims.role === "editor";

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
  for (const t of ["ticker-snapshot", "ticker-pin"]) {
    live.addEventListener(t, (e) => {
      pinnedId = e.detail.pinned?.id ?? e.detail.item?.id ?? null;
      renderRecent(lastItems);
    });
  }
  pinnedId = null;
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
  for (const name of TIMES) {
    const v = $(name).value;
    if (v) body[name] = fromLocal(v) ?? v; // an unreadable time goes as typed: the server names it
  }
  const note = $("note").value.trim();
  if (note) body.note = note;
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
      for (const id of ["text", "source", "url", "note", ...TIMES]) $(id).value = "";
      count();
      notice.className = "notice ok";
      notice.textContent = res.status === 200 ? "Already published: this was a retry of the same item."
        : data.status === "scheduled" ? `Scheduled: goes live at ${clock(data.embargoed_until)}.`
          : data.status === "submitted" ? "Submitted: an editor will review it." : "Published.";
      renderRecent(lastItems);
      renderQueue();
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
let queued = []; // scheduled and submitted items, from the queue endpoint
let hasQueue = true; // false once the server answered 404: it has no queue endpoint
let refreshTimer = 0;
function refreshSoon() { clearTimeout(refreshTimer); refreshTimer = setTimeout(loadRecent, 300); }

const authHeaders = () => (token() ? { Authorization: `Bearer ${token()}` } : {});

async function loadRecent() {
  const feed = $("feed").value;
  if (!feed) return;
  try {
    // with a token valid for the feed the answer carries the desk's notes too
    let res = await fetch(api(`api/v1/feeds/${encodeURIComponent(feed)}/items?limit=100`), { headers: authHeaders() });
    if (res.status === 401 || res.status === 403) res = await fetch(api(`api/v1/feeds/${encodeURIComponent(feed)}/items?limit=100`));
    const j = await res.json();
    if (!res.ok) throw new Error(j.detail || j.title || res.status);
    lastItems = (Array.isArray(j) ? j : j.items || []).filter((x) => x && x.id);
    if (j && "pinned" in j) pinnedId = j.pinned?.id ?? null;
    $("recent-status").textContent = "";
  } catch (err) {
    $("recent-status").textContent = `Could not load recent items (${err.message}).`;
    $("recent-status").className = "notice bad";
  }
  renderRecent(lastItems);
  loadQueue();
}

// The feed's queue (GET …/queue); a server without it, or no token: what this tab scheduled.
async function loadQueue() {
  const feed = $("feed").value;
  queued = [];
  if (feed && token() && hasQueue) {
    try {
      const res = await fetch(api(`api/v1/feeds/${encodeURIComponent(feed)}/queue`), { headers: authHeaders() });
      if (res.status === 404) hasQueue = false;
      if (res.ok) {
        queued = ((await res.json()).items || []).filter((x) => x && x.id);
        const ids = new Set(queued.map((x) => x.id));
        // this tab's waiting items that the queue no longer has went live or were cancelled
        for (const [id, it] of mine) if (it.feed === feed && WAITING.includes(it.status) && !ids.has(id)) mine.delete(id);
      }
    } catch { /* shown from this tab's own items below */ }
  }
  renderQueue();
}

// Is `it` (as this tab last saw it) newer than `other` (as the server last listed it)?
const newer = (it, other) => !other || (it.version || 0) > (other.version || 0) ||
  (it.updated_at || "") > (other.updated_at || "");

function renderRecent(items) {
  const feed = $("feed").value;
  const all = $("all-authors").checked;
  const byId = new Map(items.map((i) => [i.id, i]));
  for (const [id, it] of mine) if (it.feed === feed && newer(it, byId.get(id))) byId.set(id, it);
  const list = [...byId.values()]
    .filter((it) => !WAITING.includes(it.status))
    .filter((it) => all || !claims || it.author === claims.sub)
    .sort((a, b) => (b.published_at || "").localeCompare(a.published_at || ""))
    .slice(0, 30);
  // a row being corrected is kept as it is, so a refresh never throws away what is being typed
  const editing = new Map([...$("recent").querySelectorAll("li.editing")].map((li) => [li.dataset.id, li]));
  $("recent").replaceChildren(...list.map((it) => (it.status !== "canceled" && editing.get(it.id)) || itemRow(it)));
  if (!list.length) $("recent").append(h("li", { className: "hint", textContent: "Nothing published yet." }));
}

function renderQueue() {
  const feed = $("feed").value;
  const byId = new Map(queued.map((i) => [i.id, i]));
  const onAir = new Set(lastItems.map((x) => x.id));
  for (const [id, it] of mine) { // this tab's own changes may be newer than the last read
    if (it.feed !== feed || !newer(it, byId.get(id))) continue;
    if (WAITING.includes(it.status) && !onAir.has(id)) byId.set(id, it);
    else byId.delete(id);
  }
  const list = [...byId.values()].filter((it) => it.status !== "submitted").sort((a, b) => // submitted: "Awaiting approval"
    (a.embargoed_until || a.published_at || "").localeCompare(b.embargoed_until || b.published_at || ""));
  const editing = new Map([...$("queue").querySelectorAll("li.editing")].map((li) => [li.dataset.id, li]));
  $("queue").replaceChildren(...list.map((it) => editing.get(it.id) || itemRow(it)));
  if (!list.length) $("queue").append(h("li", { className: "hint", textContent: "Nothing scheduled." }));
  tick();
}

// Every second: the countdowns. When a scheduled item's time has come, the lists are read again
// once for it (the live ticker's item event usually comes first).
const looked = new Set();
function tick() {
  let due = false;
  for (const el of document.querySelectorAll("[data-at]")) {
    const ms = Date.parse(el.dataset.at) - Date.now();
    el.textContent = countdown(ms);
    const id = el.closest("#queue li")?.dataset.id;
    if (ms <= 0 && id && !looked.has(id)) { looked.add(id); due = true; }
  }
  if (due) setTimeout(loadRecent, 1500);
}

function statusText(it) {
  if (it.status === "canceled") return " · retracted";
  if (it.status === "withheld") return " · held";
  if (it.status === "scheduled") return " · scheduled";
  if (it.status === "submitted") return " · awaiting an editor";
  return it.id === pinnedId ? " · pinned" : "";
}

function itemRow(it) {
  const when = new Date(it.published_at);
  const meta = `${Number.isNaN(+when) ? "" : when.toLocaleTimeString()} · urgency ${it.urgency}` +
    `${it.category ? ` · ${it.category}` : ""} · v${it.version} · ${it.author}${statusText(it)}`;
  const text = h("p", { className: "text" });
  if (it.source) text.append(h("bdi", { textContent: it.source }), ": ");
  text.append(h("bdi", { textContent: it.text }));
  const li = h("li", { className: [it.status !== "usable" && it.status, it.id === pinnedId && "pinned"].filter(Boolean).join(" ") },
    h("p", { className: "meta", textContent: meta }), text);
  li.dataset.id = it.id;
  li.dataset.status = it.status;
  const times = [];
  if (it.status === "scheduled" && it.embargoed_until) times.push(["embargo", "Goes live", it.embargoed_until]);
  if (it.expires && it.status !== "canceled") times.push(["expiry", "Expires", it.expires]);
  for (const [cls, label, at] of times) {
    const left = h("span", { className: "count" });
    left.dataset.at = at;
    li.append(h("p", { className: `hint ${cls}` }, `${label} ${clock(at)} — `, left));
  }
  if (it.note) li.append(h("p", { className: "hint note" }, h("strong", { textContent: "Note: " }), h("bdi", { textContent: it.note })));
  if (it.status !== "canceled" && mayEdit(it)) li.append(...actions(li, it));
  li.append(...historyToggle(it));
  return li;
}

// The buttons a row gets: what the item's status allows and the token may do.
function actions(li, it) {
  const notice = h("p", { className: "notice", role: "status" });
  const button = (cls, label, run) => {
    const b = h("button", { type: "button", className: cls, textContent: label });
    b.addEventListener("click", async () => { b.disabled = true; await run(b); b.disabled = false; });
    return b;
  };
  const item = `api/v1/feeds/${encodeURIComponent(it.feed)}/items/${encodeURIComponent(it.id)}`;
  const pin = `api/v1/feeds/${encodeURIComponent(it.feed)}/pin`;
  const row = [h("button", { type: "button", className: "correct", textContent: "Correct" })];
  row[0].addEventListener("click", () => openEditor(li, it, notice));
  if (isEditor() && it.status === "usable") {
    row.push(button("hold", "Hold", () => change("POST", `${item}/hold`, it, null, li, notice, null, "Holding…")));
    row.push(it.id === pinnedId
      ? button("unpin", "Unpin", () => change("DELETE", pin, it, null, li, notice, null, "Unpinning…"))
      : button("pin", "Pin", () => change("PUT", pin, it, { id: it.id }, li, notice, null, "Pinning…")));
  }
  if (isEditor() && it.status === "withheld") {
    row.push(button("release", "Release", () => change("POST", `${item}/release`, it, null, li, notice, null, "Releasing…")));
  }
  const word = WAITING.includes(it.status) ? "Cancel" : "Retract";
  const retract = h("button", { type: "button", className: "retract", textContent: word });
  let armed = 0;
  retract.addEventListener("click", async () => {
    if (!armed) { // two presses, so a stray tap cannot pull a story
      retract.textContent = `Press again to ${word.toLowerCase()}`;
      armed = setTimeout(() => { armed = 0; retract.textContent = word; }, 5000);
      return;
    }
    clearTimeout(armed);
    retract.disabled = true;
    await change("DELETE", item, it, null, li, notice, null, "Retracting…");
    retract.disabled = false;
  });
  row.push(retract);
  return [h("div", { className: "row" }, ...row), notice];
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
  const when = (iso) => h("input", { type: "datetime-local", step: 1, value: toLocal(iso) });
  const form = h("form", { className: "edit", noValidate: true },
    field("text", "Text", h("textarea", { rows: 3, dir: "auto", value: it.text })),
    field("source", "Source", h("input", { type: "text", dir: "auto", value: it.source || "" })),
    field("urgency", "Urgency", urgency),
    field("url", "Link", h("input", { type: "url", value: it.url || "" })),
    ...(WAITING.includes(it.status) ? [field("embargoed_until", "Embargo until", when(it.embargoed_until))] : []),
    field("expires", "Expires at", when(it.expires)),
    field("note", "Note for the desk", h("textarea", { rows: 2, dir: "auto", maxLength: 500, value: it.note || "" })),
    h("div", { className: "row" },
      h("button", { type: "submit", className: "primary", textContent: "Save correction" }),
      h("button", { type: "button", className: "cancel", textContent: "Cancel" })));
  form.querySelector(".cancel").addEventListener("click", () => { form.remove(); li.classList.remove("editing"); });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {};
    for (const name of EDITABLE) {
      const input = form.elements[name];
      if (!input) continue;
      const raw = input.value;
      let value = name === "urgency" ? Number(raw) : raw.trim();
      let before = name === "urgency" ? it.urgency : it[name] || "";
      if (TIMES.includes(name)) { // compared as instants, sent as RFC 3339
        before = toLocal(before);
        if (value === before) continue;
        value = value && (fromLocal(value) ?? value);
      }
      if (value !== before) body[name] = value === "" && name !== "text" ? null : value;
    }
    if (!Object.keys(body).length) { notice.textContent = "Nothing changed."; notice.className = "notice"; return; }
    const button = form.querySelector('[type="submit"]');
    button.disabled = true;
    await change("PATCH", `api/v1/feeds/${encodeURIComponent(it.feed)}/items/${encodeURIComponent(it.id)}`,
      it, body, li, notice, form);
    button.disabled = false;
  });
  li.insertBefore(form, notice);
  form.elements.text.focus();
}

// One change to an item (or to the feed's pin) through the API; the rows follow the answer.
async function change(method, path, it, body, li, notice, form = null, doing = "Saving…") {
  if (!token()) { fieldError(document.body, "token", "Paste your token first."); return; }
  if (form) clearErrors(form);
  notice.className = "notice";
  notice.textContent = doing;
  try {
    const headers = { ...authHeaders(), Accept: "application/json, application/problem+json" };
    if (body) headers["Content-Type"] = "application/json";
    const res = await fetch(api(path), { method, headers, body: body ? JSON.stringify(body) : undefined });
    const data = await parse(res);
    if (!res.ok) return showProblem(form || li, notice, res, data);
    if (path.endsWith("/pin")) pinnedId = method === "PUT" ? it.id : null; // the live ticker confirms it
    else if (data && data.id === it.id && data.status) mine.set(data.id, data);
    li.classList.remove("editing");
    renderRecent(lastItems);
    renderQueue();
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
  $("tz").textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  setInterval(tick, 1000);
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
  followDesk();
  setInterval(followDesk, 1000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) { unseen = 0; document.title = baseTitle; } });
}

// ---- The approval queue, the desk's live stream, history and reader counts (issue 13) --------
// The desk's private stream (GET …/desk/events) is read with fetch(), because EventSource cannot
// send the token: `queue` replaces the submissions shown, each `desk` notice updates one item
// (and refreshes the other lists), `readers` is the feed's audience right now, `end` says the
// token stopped being valid. A new submission is highlighted and the badge rings — no sound.

const approvals = new Map(); // the feed's submitted items, by id
const freshIds = new Set(); // submissions that just arrived: highlighted for a while
let deskLive = null; // {key, controller, open, retryAt}: the stream being read
let unseen = 0; // submissions that arrived while the tab was hidden (counted in the title)
const baseTitle = document.title;
const FRESH_MS = 8000;

function renderApprovals() {
  const list = [...approvals.values()].sort((a, b) => a.id.localeCompare(b.id)); // oldest first
  const badge = $("approval-count");
  badge.textContent = String(list.length);
  badge.setAttribute("aria-label", `${list.length} waiting`);
  badge.classList.toggle("zero", !list.length);
  const editing = new Map([...$("approvals").querySelectorAll("li.editing")].map((li) => [li.dataset.id, li]));
  $("approvals").replaceChildren(...list.map((it) => editing.get(it.id) || approvalRow(it)));
  if (!list.length) $("approvals").append(h("li", { className: "hint", textContent: "Nothing waiting for approval." }));
}

// A submission: the desk's usual row (text, note, Edit and Cancel for its author or an editor)
// with Approve and Reject for an editor.
function approvalRow(it) {
  const li = itemRow(it);
  const edit = li.querySelector("button.correct");
  if (edit) edit.textContent = "Edit";
  if (freshIds.has(it.id)) li.classList.add("fresh");
  if (isEditor()) {
    const notice = h("p", { className: "notice", role: "status" });
    const path = `api/v1/feeds/${encodeURIComponent(it.feed)}/items/${encodeURIComponent(it.id)}`;
    const decide = (action, label, doing) => {
      const b = h("button", { type: "button", className: action, textContent: label });
      b.addEventListener("click", async () => {
        b.disabled = true;
        await change("POST", `${path}/${action}`, it, null, li, notice, null, doing);
        b.disabled = false;
        const now = mine.get(it.id);
        if (now && now.status !== "submitted") { approvals.delete(it.id); renderApprovals(); }
      });
      return b;
    };
    const first = li.querySelector(".row, details.history"); // before Edit/Cancel and History
    li.insertBefore(h("div", { className: "row decide" }, decide("approve", "Approve", "Approving…"),
      decide("reject", "Reject", "Rejecting…")), first);
    li.insertBefore(notice, first);
  }
  return li;
}

// A new submission: highlight its row for a while, ring the badge, count it in the title.
function cue(id) {
  freshIds.add(id);
  setTimeout(() => {
    freshIds.delete(id);
    $("approvals").querySelector(`li[data-id="${CSS.escape(id)}"]`)?.classList.remove("fresh");
  }, FRESH_MS);
  const badge = $("approval-count");
  badge.classList.add("pulse");
  setTimeout(() => badge.classList.remove("pulse"), 1500);
  if (document.hidden) document.title = `(${++unseen}) ${baseTitle}`;
}

// Every second: (re)open the stream when the token or the feed changed, or after it ended.
function followDesk() {
  const feed = $("feed").value, tok = token();
  const key = feed && tok && claims && mayWrite(feed) ? `${feed}\n${tok}` : "";
  if (deskLive && deskLive.key === key && (deskLive.open || Date.now() < deskLive.retryAt)) return;
  if (!deskLive || deskLive.key !== key) {
    deskLive?.controller.abort();
    approvals.clear();
    renderApprovals();
    $("readers").textContent = "";
  }
  deskLive = null;
  if (!key) return;
  const state = { key, controller: new AbortController(), open: true, retryAt: 0 };
  deskLive = state;
  readDesk(feed, tok, state.controller.signal).then((wait) => {
    state.open = false;
    state.retryAt = Date.now() + wait;
  });
}

// Reads one connection of the stream; resolves with how long to wait before the next one.
async function readDesk(feed, tok, signal) {
  const status = $("approvals-status");
  try {
    const res = await fetch(api(`api/v1/feeds/${encodeURIComponent(feed)}/desk/events`),
      { headers: { Authorization: `Bearer ${tok}`, Accept: "text/event-stream" }, signal });
    if (!res.ok) {
      const data = await parse(res);
      status.className = "notice bad";
      status.textContent = `The live queue is not available: ${data?.detail || res.status}.`;
      return res.status === 401 || res.status === 403 ? 30000 : 3000;
    }
    status.textContent = "";
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 2000;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data) onDesk(name, JSON.parse(data));
      }
    }
  } catch {
    return signal.aborted ? 0 : 3000;
  }
}

function onDesk(name, data) {
  if (name === "queue") {
    approvals.clear();
    for (const it of data.items) if (it.status === "submitted") approvals.set(it.id, it);
    renderApprovals();
  } else if (name === "desk") {
    const it = data.item;
    if (it.status === "submitted") approvals.set(it.id, it);
    else approvals.delete(it.id);
    if (data.action === "submitted") cue(it.id);
    renderApprovals();
    reloadHistory(it.id);
    refreshSoon(); // the recent and scheduled lists follow too
  } else if (name === "readers") {
    $("readers").textContent = `${data.readers} ${data.readers === 1 ? "reader" : "readers"} on this feed now`;
  } else if (name === "end") {
    $("approvals-status").className = "notice bad";
    $("approvals-status").textContent = `The live queue stopped: ${data.reason}.`;
  }
}

// "History" under an item: every action on it, loaded when opened (a token valid for the feed).
// Which ones are open survives the lists being redrawn.
const openHistories = new Set();
function historyToggle(it) {
  if (!token() || !mayWrite(it.feed)) return [];
  const list = h("ol");
  const box = h("details", { className: "history" }, h("summary", { textContent: "History" }), list);
  box.dataset.id = it.id;
  box.dataset.feed = it.feed;
  box.open = openHistories.has(it.id);
  box.addEventListener("toggle", () => {
    if (box.open) { openHistories.add(it.id); loadHistory(box); } else openHistories.delete(it.id);
  });
  return [box];
}

async function loadHistory(box) {
  const list = box.querySelector("ol");
  try {
    const res = await fetch(api(`api/v1/feeds/${encodeURIComponent(box.dataset.feed)}/items/${encodeURIComponent(box.dataset.id)}/history`),
      { headers: authHeaders() });
    const data = await parse(res);
    if (!res.ok) throw new Error(data?.detail || res.status);
    list.replaceChildren(...data.history.map((e) => h("li", {},
      `${e.action} by `, h("bdi", { textContent: e.by }), ` · ${clock(e.at)} · v${e.version}`)));
  } catch (err) {
    list.replaceChildren(h("li", { textContent: `Could not load the history (${err.message}).` }));
  }
}

function reloadHistory(id) {
  for (const box of document.querySelectorAll(`details.history[open][data-id="${CSS.escape(id)}"]`)) loadHistory(box);
}

main();
