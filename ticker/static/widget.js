// <breaking-ticker>: a live breaking-news strip. Standalone ES module, no dependencies.
// Speaks the public ticker v1 protocol (WebSocket /ws, SSE fallback) of the server it was loaded from.
const BASE = new URL("./", import.meta.url);
const SILENCE = 60000, CAP = 30000;
const RTL = /^(ar|he|fa|ur|ps|yi|dv|sd|ug|ckb)(-|$)/i;
const T = {
  en: { label: "BREAKING", flash: "FLASH", pause: "Pause", play: "Play", connecting: "Connecting",
    live: "Live", reconnecting: "Reconnecting", offline: "Offline" },
  ar: { label: "عاجل", flash: "عاجل جدًا", pause: "إيقاف مؤقت", play: "تشغيل", connecting: "جارٍ الاتصال",
    live: "مباشر", reconnecting: "جارٍ إعادة الاتصال", offline: "غير متصل" },
  es: { label: "ÚLTIMA HORA", flash: "URGENTE", pause: "Pausar", play: "Reanudar", connecting: "Conectando",
    live: "En directo", reconnecting: "Reconectando", offline: "Sin conexión" },
};
const CSS = `
:host{--_bg:var(--ticker-bg,#fff);--_fg:var(--ticker-fg,#151515);--_muted:var(--ticker-muted,#595959);
--_accent:var(--ticker-accent,#c8102e);--_accent-fg:var(--ticker-accent-fg,#fff);--_flash:var(--ticker-flash,#b00020);
--_sep:var(--ticker-separator,#d4d4d4);display:block;color:var(--_fg);background:var(--_bg);
font:var(--ticker-font-size,15px)/1.4 var(--ticker-font,system-ui,sans-serif)}
:host([theme=dark]){--_bg:var(--ticker-bg,#141414);--_fg:var(--ticker-fg,#f1f1f1);--_muted:var(--ticker-muted,#b3b3b3);
--_flash:var(--ticker-flash,#ff8a80);--_sep:var(--ticker-separator,#3d3d3d)}
@media (prefers-color-scheme:dark){:host(:not([theme=light]):not([theme=dark])){--_bg:var(--ticker-bg,#141414);
--_fg:var(--ticker-fg,#f1f1f1);--_muted:var(--ticker-muted,#b3b3b3);--_flash:var(--ticker-flash,#ff8a80);
--_sep:var(--ticker-separator,#3d3d3d)}}
:host([size=small]){font-size:var(--ticker-font-size,13px)}:host([size=large]){font-size:var(--ticker-font-size,19px)}
:host([hidden]){display:none}
.bar{position:relative;display:flex;min-height:2.5em;border-block:1px solid var(--_sep)}
.head{display:flex;align-items:center;gap:.5em;padding:0 .8em;background:var(--_accent);color:var(--_accent-fg);
font-weight:700;letter-spacing:.03em;white-space:nowrap}
.dot{width:.55em;height:.55em;border-radius:50%;background:#8a8a8a;box-shadow:0 0 0 1px #fff6}
.dot[data-state=live]{background:#2fd15a}.dot[data-state=reconnecting],.dot[data-state=connecting]{background:#ffb300}
.vp{position:relative;flex:1;min-width:0;overflow:hidden}
.track{position:absolute;inset-block:0;inset-inline-start:0;display:flex;align-items:center;width:max-content;
margin:0;padding:0;list-style:none;will-change:transform}
li{white-space:nowrap;padding:0 1.2em;border-inline-end:1px solid var(--_sep)}
.spacer{flex:none;padding:0;border:0}
a{color:var(--ticker-link,inherit);text-decoration:none}a:hover,a:focus-visible{text-decoration:underline}
:focus-visible{outline:2px solid var(--ticker-focus,#1a73e8);outline-offset:-2px}
.src{font-weight:650}.time{margin-inline-start:.6em;color:var(--_muted);font-size:.85em}
.flash .txt{font-weight:700;color:var(--_flash)}
.badge{margin-inline-end:.5em;padding:.1em .4em;border-radius:.2em;background:var(--_flash);color:var(--_bg);
font-size:.75em;font-weight:700}
.pause{min-width:2.75em;padding:0 .8em;border:0;border-inline-start:1px solid var(--_sep);background:none;
color:inherit;font:inherit;cursor:pointer}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
[data-mode=list]{flex-direction:column}[data-mode=list] .head{padding:.4em .8em}
[data-mode=list] .vp{overflow:visible}[data-mode=list] .pause,[data-mode=list] .spacer{display:none}
[data-mode=list] .track{position:static;flex-direction:column;align-items:stretch;width:auto;transform:none!important}
[data-mode=list] li{white-space:normal;border:0;padding:.5em .8em}[data-mode=list] li+li{border-top:1px solid var(--_sep)}
@media (prefers-reduced-motion:reduce){.track{transform:none!important}}`;
const HTML = `<div class="bar" part="bar" role="region"><div class="head" part="header"><span class="label" part="label">
</span><span class="dot" part="status" role="img"></span></div><div class="vp" part="viewport"><ul class="track"
part="list" role="list"></ul></div><button class="pause" part="pause" type="button" aria-pressed="false"></button>
<div class="sr" aria-live="polite"></div></div>`;
const CONN = new Set(["feed", "categories", "regions", "max-urgency", "transport", "server"]);
const FILTERS = ["categories", "regions"];
const meta = new Map(); // server base -> Promise<feed list>
let sheet = null;

function feeds(base) {
  if (!meta.has(base)) {
    meta.set(base, fetch(new URL("api/v1/feeds", base)).then((r) => (r.ok ? r.json() : []))
      .then((j) => (Array.isArray(j) ? j : j.feeds || [])).catch(() => []));
  }
  return meta.get(base);
}
function el(tag, cls, text, part) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = String(text);
  if (part) e.setAttribute("part", part);
  return e;
}
function safeUrl(u) {
  try { const x = new URL(u); return /^https?:$/.test(x.protocol) ? x.href : null; } catch { return null; }
}
const fmts = new Map();
function ago(ts, lang) {
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return "";
  if (!fmts.has(lang)) {
    try { fmts.set(lang, new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "short" })); }
    catch { fmts.set(lang, new Intl.RelativeTimeFormat("en", { numeric: "auto", style: "short" })); }
  }
  const s = Math.min(0, Math.round((t - Date.now()) / 1000)), f = fmts.get(lang);
  if (s > -45) return f.format(0, "second");
  if (s > -3600) return f.format(Math.round(s / 60), "minute");
  if (s > -86400) return f.format(Math.round(s / 3600), "hour");
  return f.format(Math.round(s / 86400), "day");
}

export class BreakingTicker extends HTMLElement {
  static observedAttributes = [...CONN, "label", "theme", "mode", "limit", "size", "lang", "dir"];
  #items = new Map(); #order = []; // newest first
  #cursor = null; #ws = null; #es = null; #timer = 0; #clock = 0; #retry = 0; #wsFails = 0; #sse = false;
  #heard = 0; #pinged = false; #status = ""; #meta = null; #x = 0; #raf = 0; #last = 0;
  #hover = false; #focus = false; #held = false;
  #spacer = el("li", "spacer"); #mq = matchMedia("(prefers-reduced-motion: reduce)");
  #ro = new ResizeObserver(() => this.#fit());

  constructor() {
    super();
    const r = this.attachShadow({ mode: "open" });
    try {
      if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); }
      r.adoptedStyleSheets = [sheet];
      r.innerHTML = HTML;
    } catch { r.innerHTML = HTML; r.prepend(el("style", null, CSS)); }
    const $ = (s) => r.querySelector(s);
    [this.$bar, this.$label, this.$dot, this.$vp, this.$track, this.$pause, this.$live] =
      [".bar", ".label", ".dot", ".vp", ".track", ".pause", ".sr"].map($);
    this.#spacer.setAttribute("aria-hidden", "true");
    this.$pause.onclick = () => (this.#held ? this.play() : this.pause());
    this.$vp.addEventListener("pointerenter", () => { this.#hover = true; });
    this.$vp.addEventListener("pointerleave", () => { this.#hover = false; this.#anim(); });
    this.addEventListener("focusin", (e) => {
      const n = e.composedPath()[0];
      this.#focus = this.$vp.contains(n);
      if (this.#focus) this.#reveal(n);
    });
    this.addEventListener("focusout", () => { this.#focus = false; this.#anim(); });
    this.#mq.addEventListener?.("change", () => this.#render());
  }

  get feed() { return this.getAttribute("feed") || ""; }
  get status() { return this.#status; }
  get cursor() { return this.#cursor; }
  get items() { return this.#order.map((id) => this.#items.get(id)); }
  get paused() { return this.#held; }
  pause() { this.#held = true; this.#setup(); }
  play() { this.#held = false; this.#setup(); this.#anim(); }
  reconnect() { this.#close(); this.#retry = 0; this.#open(); }

  connectedCallback() {
    this.#on = () => this.#status !== "live" && this.reconnect();
    this.#off = () => this.#setStatus("offline");
    this.#vis = () => {
      if (document.hidden) return;
      if (this.#status !== "live" || Date.now() - this.#heard > SILENCE) this.reconnect();
      this.#anim();
    };
    addEventListener("online", this.#on);
    addEventListener("offline", this.#off);
    document.addEventListener("visibilitychange", this.#vis);
    this.#clock = setInterval(() => this.#tickle(), 5000);
    this.#ro.observe(this.$vp);
    this.#up = true;
    this.#setup();
    this.#loadMeta();
    this.#open();
  }
  disconnectedCallback() {
    this.#up = false;
    removeEventListener("online", this.#on);
    removeEventListener("offline", this.#off);
    document.removeEventListener("visibilitychange", this.#vis);
    clearInterval(this.#clock);
    this.#ro.disconnect();
    cancelAnimationFrame(this.#raf); this.#raf = 0;
    this.#close();
  }
  attributeChangedCallback(name, old, val) {
    if (!this.#up || old === val) return;
    if (CONN.has(name)) {
      this.#items.clear(); this.#order = []; this.#cursor = null; this.#render();
      if (name === "feed" || name === "server") this.#loadMeta();
      this.reconnect();
    } else this.#setup();
  }
  #on = null; #off = null; #vis = null; #up = false;

  // ---- connection ----
  get #base() { try { return new URL(this.getAttribute("server") || BASE, BASE); } catch { return BASE; } }
  #list(name) { return (this.getAttribute(name) || "").split(",").map((s) => s.trim()).filter(Boolean); }
  #filter() {
    const f = {};
    for (const k of FILTERS) { const v = this.#list(k); if (v.length) f[k] = v; }
    const u = parseInt(this.getAttribute("max-urgency"), 10);
    if (u >= 1 && u <= 9) f.max_urgency = u;
    return f;
  }
  #match(it) {
    const f = this.#filter();
    return (!f.categories || f.categories.includes(it.category)) &&
      (!f.regions || (it.regions || []).some((r) => f.regions.includes(r))) &&
      (!f.max_urgency || it.urgency <= f.max_urgency);
  }
  #open() {
    this.#close();
    if (!this.feed || !this.#up) return;
    if (this.#status !== "offline") this.#setStatus(this.#status ? "reconnecting" : "connecting");
    this.#heard = Date.now();
    const forced = this.getAttribute("transport");
    if (forced === "sse" || (forced !== "websocket" && (this.#sse || typeof WebSocket !== "function"))) {
      return this.#openSSE();
    }
    const u = new URL("ws", this.#base);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    const ws = (this.#ws = new WebSocket(u));
    let heard = false;
    ws.onopen = () => {
      const sub = { type: "subscribe", feed: this.feed, filter: this.#filter() };
      if (this.#cursor) sub.since = this.#cursor;
      ws.send(JSON.stringify(sub));
    };
    ws.onmessage = (e) => {
      if (ws !== this.#ws) return;
      heard = true; this.#heard = Date.now();
      try { this.#frame(JSON.parse(e.data)); } catch (err) { console.warn("breaking-ticker:", err); }
    };
    ws.onclose = (e) => {
      if (ws !== this.#ws) return;
      this.#ws = null;
      if (!heard && ++this.#wsFails >= 3 && typeof EventSource === "function") this.#sse = true;
      this.#later(e.code === 1012 || e.code === 1013);
    };
  }
  #openSSE() {
    const u = new URL(`api/v1/feeds/${encodeURIComponent(this.feed)}/events`, this.#base);
    if (this.#cursor) u.searchParams.set("since", this.#cursor);
    for (const [k, v] of Object.entries(this.#filter())) u.searchParams.set(k, String(v));
    const es = (this.#es = new EventSource(u));
    let ok = false;
    es.onopen = () => { ok = true; this.#heard = Date.now(); this.#retry = 0; this.#setStatus("live"); };
    for (const type of ["item", "update", "retract", "snapshot", "ping"]) {
      es.addEventListener(type, (e) => {
        if (es !== this.#es) return;
        ok = true; this.#heard = Date.now();
        if (type === "ping") { this.#pinged = true; return; }
        try {
          const m = JSON.parse(e.data);
          m.type = type; m.cursor ??= e.lastEventId || undefined;
          this.#frame(m);
        } catch (err) { console.warn("breaking-ticker:", err); }
      });
    }
    es.onerror = () => {
      if (es !== this.#es) return;
      if (es.readyState === EventSource.OPEN) return;
      es.close(); this.#es = null;
      if (!ok) { this.#sse = false; this.#wsFails = 0; }
      this.#later(false);
    };
  }
  #close() {
    clearTimeout(this.#timer);
    const ws = this.#ws, es = this.#es;
    this.#ws = this.#es = null;
    if (ws) { ws.onclose = ws.onmessage = null; try { ws.close(1000); } catch { /* already closed */ } }
    es?.close();
  }
  #later(fast) {
    this.#close();
    const n = this.#retry++;
    const d = fast ? 250 + Math.random() * 750 : Math.min(CAP, 500 * 2 ** n) * (0.5 + Math.random() / 2);
    this.#setStatus(navigator.onLine === false || n >= 5 ? "offline" : "reconnecting");
    this.#timer = setTimeout(() => this.#open(), d);
  }
  #tickle() {
    const live = this.#ws || (this.#es && this.#pinged);
    if (live && Date.now() - this.#heard > SILENCE) this.reconnect();
    for (const t of this.$track.querySelectorAll("time")) t.textContent = ago(t.dateTime, t.parentElement.lang || "en");
  }
  #setStatus(s) {
    if (s === this.#status) return;
    this.#status = s;
    this.#setup();
    this.#emit("status", { status: s });
  }
  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(`ticker-${type}`, { detail, bubbles: true, composed: true }));
  }

  // ---- events ----
  #frame(m) {
    if (m.cursor) this.#cursor = m.cursor;
    switch (m.type) {
      case "subscribed":
        this.#retry = 0; this.#wsFails = 0;
        if (m.recovered) this.#setStatus("live");
        break;
      case "snapshot":
        this.#retry = 0; this.#wsFails = 0;
        this.#replace(m.items || []);
        this.#setStatus("live");
        break;
      case "item": case "update": this.#upsert(m.item, m.type === "item"); break;
      case "retract": this.#remove(m.id); break;
      case "error": console.warn("breaking-ticker:", m.code, m.message); break;
    }
  }
  #replace(items) {
    this.#items.clear(); this.#order = [];
    for (const it of items) {
      if (it && it.status !== "canceled" && this.#match(it) && !this.#items.has(it.id)) {
        this.#items.set(it.id, it); this.#order.unshift(it.id);
      }
    }
    this.#trim();
    this.#render();
    this.#emit("snapshot", { items: this.items, cursor: this.#cursor });
  }
  #upsert(it, fresh) {
    if (!it) return;
    if (it.status === "canceled") return this.#remove(it.id);
    const old = this.#items.get(it.id);
    if (old) {
      if ((it.version || 0) < (old.version || 0)) return;
      this.#items.set(it.id, it);
      const li = this.#li(it.id);
      if (li) this.#fill(li, it);
      return this.#emit("update", { item: it });
    }
    if (!fresh || !this.#match(it)) return;
    this.#items.set(it.id, it); this.#order.unshift(it.id);
    const li = this.#make(it);
    if (this.#listMode) this.$track.prepend(li);
    else {
      const vw = this.$vp.clientWidth;
      const ref = [...this.$track.children].find((c) => c === this.#spacer || this.#pos(c) - this.#x >= vw);
      this.$track.insertBefore(li, ref || null);
    }
    this.#trim();
    this.#fit();
    this.#anim();
    this.$live.textContent = `${this.#label}: ${it.source ? `${it.source}: ` : ""}${it.text}`;
    this.#emit("item", { item: it });
  }
  #remove(id) {
    if (!this.#items.delete(id)) return;
    this.#order = this.#order.filter((x) => x !== id);
    this.#drop(this.#li(id));
    this.#emit("retract", { id });
  }
  #trim() {
    const max = Math.max(1, parseInt(this.getAttribute("limit"), 10) || 20);
    while (this.#order.length > max) { const id = this.#order.pop(); this.#items.delete(id); this.#drop(this.#li(id)); }
  }
  #drop(li) {
    if (!li) return;
    if (li === this.$track.firstElementChild) this.#x = 0;
    li.remove();
    this.#fit(); this.#move();
  }
  #li(id) { return [...this.$track.children].find((c) => c.dataset.id === String(id)); }

  // ---- rendering ----
  get #lang() { return this.getAttribute("lang") || this.#meta?.lang || this.feed || "en"; }
  get #t() { return T[this.#lang.split("-")[0].toLowerCase()] || T.en; }
  get #label() { return this.getAttribute("label") || this.#t.label; }
  get #listMode() { return this.getAttribute("mode") === "list" || this.#mq.matches; }
  async #loadMeta() {
    const feed = this.feed, list = await feeds(String(this.#base));
    if (feed === this.feed) { this.#meta = list.find((f) => f.id === feed) || null; this.#setup(); }
  }
  #setup() {
    const t = this.#t, lang = this.#lang, bar = this.$bar;
    bar.lang = lang;
    bar.dir = this.getAttribute("dir") || this.#meta?.direction || (RTL.test(lang) ? "rtl" : "ltr");
    bar.setAttribute("aria-label", this.#meta?.title ? `${this.#label} — ${this.#meta.title}` : this.#label);
    this.$label.textContent = this.#label;
    const s = this.#status || "connecting";
    this.$dot.dataset.state = s;
    this.$dot.setAttribute("aria-label", t[s]); this.$dot.title = t[s];
    this.$pause.setAttribute("aria-pressed", String(this.#held));
    this.$pause.setAttribute("aria-label", this.#held ? t.play : t.pause);
    this.$pause.title = this.$pause.getAttribute("aria-label");
    this.$pause.textContent = this.#held ? "\u25B6\uFE0E" : "\u275A\u275A";
    if (bar.dataset.mode !== (this.#listMode ? "list" : "scroll")) this.#render();
  }
  #render() {
    const list = this.#listMode;
    this.$bar.dataset.mode = list ? "list" : "scroll";
    this.$track.replaceChildren(...this.#order.map((id) => this.#make(this.#items.get(id))));
    if (!list) this.$track.append(this.#spacer);
    this.#x = 0;
    this.#move();
    this.#fit();
    this.#anim();
  }
  #make(it) {
    const li = el("li");
    li.dataset.id = it.id;
    this.#fill(li, it);
    return li;
  }
  #fill(li, it) {
    const flash = it.urgency <= 2, url = safeUrl(it.url), lang = it.lang || this.#lang;
    li.className = flash ? "flash" : "";
    li.setAttribute("part", flash ? "item flash" : "item");
    li.dataset.version = it.version ?? 1;
    li.lang = lang;
    const body = el(url ? "a" : "span", "body", null, url ? "link" : null);
    if (url) { body.href = url; body.target = "_blank"; body.rel = "noopener noreferrer"; }
    if (flash) body.append(el("span", "badge", this.#t.flash, "badge"));
    if (it.source) body.append(el("bdi", "src", it.source, "source"), ": ");
    body.append(el("bdi", "txt", it.text, "text"));
    const time = el("time", "time", ago(it.published_at, lang), "time");
    time.dateTime = it.published_at || "";
    try { time.title = new Date(it.published_at).toLocaleString(lang); } catch { /* bad date */ }
    li.replaceChildren(body, time);
  }

  // ---- motion: the strip is a ring; the item that scrolls out at the start moves to the end ----
  get #rtl() { return this.$bar.dir === "rtl"; }
  #pos(c) { return this.#rtl ? this.$track.offsetWidth - c.offsetLeft - c.offsetWidth : c.offsetLeft; }
  #move() { this.$track.style.transform = this.#listMode ? "" : `translateX(${this.#rtl ? this.#x : -this.#x}px)`; }
  #fit() {
    const s = this.#spacer;
    if (!s.isConnected) return;
    let sum = 0, max = 0;
    for (const c of this.$track.children) if (c !== s) { sum += c.offsetWidth; max = Math.max(max, c.offsetWidth); }
    s.style.width = `${sum ? Math.max(0, this.$vp.clientWidth + max - sum) : 0}px`;
  }
  get #stopped() {
    return this.#held || this.#hover || this.#focus || document.hidden || this.#listMode || !this.#order.length;
  }
  #anim() {
    if (this.#raf || this.#stopped || !this.isConnected) return;
    this.#last = 0;
    this.#raf = requestAnimationFrame(this.#tick);
  }
  #tick = (now) => {
    this.#raf = 0;
    if (this.#stopped) return;
    const dt = this.#last ? Math.min(100, now - this.#last) : 0;
    this.#last = now;
    this.#x += (dt * (parseFloat(this.getAttribute("speed")) || 60)) / 1000;
    const first = this.$track.firstElementChild;
    if (first && this.#x >= first.offsetWidth) {
      this.#x -= first.offsetWidth;
      this.$track.append(first);
      if (first === this.#spacer) this.#fit();
    }
    this.#move();
    this.#raf = requestAnimationFrame(this.#tick);
  };
  #reveal(node) {
    const li = node?.closest?.("li");
    this.$vp.scrollLeft = 0;
    if (!li || this.#listMode || li.parentNode !== this.$track) return;
    while (this.$track.firstElementChild !== li) this.$track.append(this.$track.firstElementChild);
    this.#x = 0;
    this.#fit(); this.#move();
  }
}

if (!customElements.get("breaking-ticker")) customElements.define("breaking-ticker", BreakingTicker);
