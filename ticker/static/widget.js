// <breaking-ticker>: a live breaking-news strip. Standalone ES module, no dependencies.
// Speaks the public ticker v1 protocol (WebSocket /ws, SSE fallback) of the server it came from.
const BASE = new URL("./", import.meta.url);
const SILENCE = 60000, CAP = 30000;
const RTL = /^(ar|he|fa|ur|ps|yi|dv|sd|ug|ckb)\b/i;
const T = {
  en: ["BREAKING", "FLASH", "Pause", "Play", "Connecting", "Live", "Reconnecting", "Offline"],
  ar: ["عاجل", "عاجل جدًا", "إيقاف مؤقت", "تشغيل", "جارٍ الاتصال", "مباشر", "جارٍ إعادة الاتصال", "غير متصل"],
  es: ["ÚLTIMA HORA", "URGENTE", "Pausar", "Reanudar", "Conectando", "En directo", "Reconectando", "Sin conexión"],
};
const STATES = ["connecting", "live", "reconnecting", "offline"];
const CSS = `:host{display:block}:host([hidden]){display:none}
.bar{--_bg:var(--ticker-bg,#fff);--_fg:var(--ticker-fg,#151515);--_mu:var(--ticker-muted,#595959);
--_fl:var(--ticker-flash,#b00020);--_sep:var(--ticker-separator,#d4d4d4);position:relative;display:flex;
min-height:2.5em;border-block:1px solid var(--_sep);color:var(--_fg);background:var(--_bg);
font:var(--ticker-font-size,15px)/1.4 var(--ticker-font,system-ui,sans-serif)}
.dark{--_bg:var(--ticker-bg,#141414);--_fg:var(--ticker-fg,#f1f1f1);--_mu:var(--ticker-muted,#b3b3b3);
--_fl:var(--ticker-flash,#ff8a80);--_sep:var(--ticker-separator,#3d3d3d)}
:host([size=small]) .bar{font-size:var(--ticker-font-size,13px)}:host([size=large]) .bar{font-size:var(--ticker-font-size,19px)}
.head{display:flex;align-items:center;gap:.5em;padding:0 .8em;background:var(--ticker-accent,#c8102e);
color:var(--ticker-accent-fg,#fff);font-weight:700;letter-spacing:.03em;white-space:nowrap}
.dot{width:.55em;height:.55em;border-radius:50%;background:#8a8a8a;box-shadow:0 0 0 1px #fff6}
.dot[data-state=live]{background:#2fd15a}.dot[data-state$=connecting]{background:#ffb300}
.vp{position:relative;flex:1;min-width:0;overflow:hidden}
.track{position:absolute;inset-block:0;inset-inline-start:0;display:flex;align-items:center;width:max-content;
margin:0;padding:0;list-style:none;will-change:transform}
li{white-space:nowrap;padding:0 1.2em;border-inline-end:1px solid var(--_sep)}.spacer{flex:none;padding:0;border:0}
a{color:var(--ticker-link,inherit);text-decoration:none}a:hover,a:focus-visible{text-decoration:underline}
:focus-visible{outline:2px solid var(--ticker-focus,#1a73e8);outline-offset:-2px}
.src{font-weight:650}.time{margin-inline-start:.6em;color:var(--_mu);font-size:.85em}.flash .txt{font-weight:700;color:var(--_fl)}
.badge{margin-inline-end:.5em;padding:.1em .4em;border-radius:.2em;background:var(--_fl);color:var(--_bg);font-size:.75em;font-weight:700}
.pause{min-width:2.75em;padding:0 .8em;border:0;border-inline-start:1px solid var(--_sep);background:none;color:inherit;font:inherit;cursor:pointer}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
[data-mode=list]{flex-direction:column}[data-mode=list] .head{padding:.4em .8em}[data-mode=list] .vp{overflow:visible}
[data-mode=list] .pause{display:none}[data-mode=list] li{white-space:normal;border:0;padding:.5em .8em}
[data-mode=list] .track{position:static;flex-direction:column;align-items:stretch;width:auto;transform:none!important}
[data-mode=list] li+li{border-top:1px solid var(--_sep)}@media (prefers-reduced-motion:reduce){.track{transform:none!important}}`;
const HTML = `<div class="bar" part="bar" role="region"><div class="head" part="header"><span class="label" part="label">
</span><span class="dot" part="status" role="img"></span></div><div class="vp" part="viewport"><ul class="track"
part="list" role="list"></ul></div><button class="pause" part="pause" type="button"></button><div class="sr"
aria-live="polite"></div></div>`;
const CONN = ["feed", "categories", "regions", "max-urgency", "transport", "server"];
const meta = new Map(); // server base -> Promise<feed list>
const fmts = new Map();
let sheet;

const feeds = (base) => {
  if (!meta.has(base)) {
    meta.set(base, fetch(new URL("api/v1/feeds", base)).then((r) => (r.ok ? r.json() : []))
      .then((j) => (Array.isArray(j) ? j : j.feeds || [])).catch(() => []));
  }
  return meta.get(base);
};
const el = (tag, cls, text, part) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = String(text); // item data is only ever text, never HTML
  if (part) e.setAttribute("part", part);
  return e;
};
const safeUrl = (u) => {
  try { const x = new URL(u); return /^https?:$/.test(x.protocol) ? x.href : null; } catch { return null; }
};
const ago = (ts, lang) => {
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return "";
  if (!fmts.has(lang)) {
    let f;
    try { f = new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "short" }); }
    catch { f = new Intl.RelativeTimeFormat("en", { numeric: "auto", style: "short" }); }
    fmts.set(lang, f);
  }
  const s = Math.min(0, Math.round((t - Date.now()) / 1000)), f = fmts.get(lang);
  return s > -45 ? f.format(0, "second") : s > -3600 ? f.format(Math.round(s / 60), "minute")
    : s > -86400 ? f.format(Math.round(s / 3600), "hour") : f.format(Math.round(s / 86400), "day");
};

export class BreakingTicker extends HTMLElement {
  static observedAttributes = [...CONN, "label", "theme", "mode", "limit", "size", "lang", "dir"];
  #items = new Map(); #order = []; // newest first
  #cursor = null; #ws = null; #es = null; #timer = 0; #clock = 0; #retry = 0; #wsFails = 0; #sse = false;
  #heard = 0; #pinged = false; #status = ""; #meta = null; #up = false;
  #x = 0; #raf = 0; #last = 0; #hover = false; #focus = false; #held = false;
  #spacer = el("li", "spacer"); #calm = matchMedia("(prefers-reduced-motion: reduce)");
  #dark = matchMedia("(prefers-color-scheme: dark)"); #ro = new ResizeObserver(() => this.#fit());
  #on = () => this.#status !== "live" && this.reconnect();
  #off = () => this.#setStatus("offline");
  #vis = () => {
    if (document.hidden) return;
    if (this.#status !== "live" || Date.now() - this.#heard > SILENCE) this.reconnect();
    this.#anim();
  };

  constructor() {
    super();
    const r = this.attachShadow({ mode: "open" });
    r.innerHTML = HTML;
    try { // constructed sheets are not blocked by a host page's style-src CSP
      if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); }
      r.adoptedStyleSheets = [sheet];
    } catch { r.prepend(el("style", null, CSS)); }
    [this.$bar, this.$label, this.$dot, this.$vp, this.$track, this.$pause, this.$live] =
      [".bar", ".label", ".dot", ".vp", ".track", ".pause", ".sr"].map((s) => r.querySelector(s));
    this.#spacer.setAttribute("aria-hidden", "true");
    this.$pause.onclick = () => (this.#held ? this.play() : this.pause());
    this.$vp.onpointerenter = () => { this.#hover = true; };
    this.$vp.onpointerleave = () => { this.#hover = false; this.#anim(); };
    this.addEventListener("focusin", (e) => {
      const n = e.composedPath()[0];
      if ((this.#focus = this.$vp.contains(n))) this.#reveal(n);
    });
    this.addEventListener("focusout", () => { this.#focus = false; this.#anim(); });
    this.#calm.addEventListener("change", () => this.#setup());
    this.#dark.addEventListener("change", () => this.#setup());
  }

  get feed() { return this.#a("feed"); }
  get status() { return this.#status; }
  get cursor() { return this.#cursor; }
  get items() { return this.#order.map((id) => this.#items.get(id)); }
  pause() { this.#held = true; this.#setup(); }
  play() { this.#held = false; this.#setup(); this.#anim(); }
  reconnect() { this.#retry = 0; this.#open(); }

  connectedCallback() {
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
    cancelAnimationFrame(this.#raf);
    this.#raf = 0;
    this.#close();
  }
  attributeChangedCallback(name, old) {
    if (!this.#up || old === this.getAttribute(name)) return;
    if (!CONN.includes(name)) return this.#setup();
    this.#items.clear(); this.#order = []; this.#cursor = null;
    this.#render();
    this.#loadMeta();
    this.reconnect();
  }
  #a(name) { return this.getAttribute(name) || ""; }

  // ---- connection ----
  get #base() { try { return new URL(this.#a("server") || BASE, BASE); } catch { return BASE; } }
  #filter() {
    const f = {};
    for (const k of ["categories", "regions"]) {
      const v = this.#a(k).split(",").map((s) => s.trim()).filter(Boolean);
      if (v.length) f[k] = v;
    }
    const u = parseInt(this.#a("max-urgency"), 10);
    if (u >= 1 && u <= 9) f.max_urgency = u;
    return f;
  }
  #match(it) {
    const f = this.#filter();
    return (!f.categories || f.categories.includes(it.category)) &&
      (!f.regions || (it.regions || []).some((r) => f.regions.includes(r))) &&
      !(it.urgency > f.max_urgency);
  }
  #open() {
    this.#close();
    if (!this.feed || !this.#up) return;
    if (this.#status !== "offline") this.#setStatus(this.#status ? "reconnecting" : "connecting");
    this.#heard = Date.now();
    const forced = this.#a("transport");
    if (forced === "sse" || (forced !== "websocket" && (this.#sse || !window.WebSocket))) return this.#openSSE();
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
      heard = true;
      this.#heard = Date.now();
      this.#parse(e.data);
    };
    ws.onclose = (e) => {
      if (ws !== this.#ws) return;
      // a socket that never carried a frame: blocked by a proxy, or no server. Try SSE after 3.
      if (!heard && ++this.#wsFails >= 3 && window.EventSource) this.#sse = true;
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
        ok = true;
        this.#heard = Date.now();
        if (type === "ping") this.#pinged = true;
        else this.#parse(e.data, type, e.lastEventId);
      });
    }
    es.onerror = () => {
      if (es !== this.#es) return;
      if (!ok) { this.#sse = false; this.#wsFails = 0; } // neither works yet: alternate
      this.#later(false); // reconnect ourselves, with backoff and a fresh ?since=
    };
  }
  #close() {
    clearTimeout(this.#timer);
    const ws = this.#ws;
    this.#ws = null;
    if (ws) { ws.onclose = ws.onmessage = null; ws.close(); }
    this.#es?.close();
    this.#es = null;
  }
  #later(fast) {
    this.#close();
    const n = this.#retry++;
    // exponential backoff with jitter and a cap; a restarting server (1012/1013) is retried soon
    const d = fast ? 250 + Math.random() * 750 : Math.min(CAP, 500 * 2 ** n) * (0.5 + Math.random() / 2);
    this.#setStatus(navigator.onLine === false || n >= 5 ? "offline" : "reconnecting");
    this.#timer = setTimeout(() => this.#open(), d);
  }
  #tickle() {
    if ((this.#ws || (this.#es && this.#pinged)) && Date.now() - this.#heard > SILENCE) this.reconnect();
    for (const t of this.$track.querySelectorAll("time")) t.textContent = ago(t.dateTime, t.parentNode.lang);
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
  #parse(data, type, id) {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (type) m.type = type;
    if (id) m.cursor ??= id;
    if (m.cursor) this.#cursor = m.cursor;
    const t = m.type;
    if (t === "subscribed" || t === "snapshot") {
      this.#retry = this.#wsFails = 0;
      if (t === "snapshot") this.#replace(m.items || []);
      if (t === "snapshot" || m.recovered) this.#setStatus("live"); // else a snapshot follows
    } else if (t === "item" || t === "update") this.#upsert(m.item, t === "item");
    else if (t === "retract") this.#remove(m.id);
    else if (t === "error") console.warn("breaking-ticker:", m.code, m.message);
  }
  #replace(items) {
    this.#items.clear();
    this.#order = [];
    for (const it of items) {
      if (it.status !== "canceled" && this.#match(it) && !this.#items.has(it.id)) {
        this.#items.set(it.id, it);
        this.#order.unshift(it.id);
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
    if (old) { // a correction (or a repeat): change it in place
      if (it.version < old.version) return;
      this.#items.set(it.id, it);
      const li = this.#li(it.id);
      if (li) this.#fill(li, it);
      return this.#emit("update", { item: it });
    }
    if (!fresh || !this.#match(it)) return;
    this.#items.set(it.id, it);
    this.#order.unshift(it.id);
    const li = this.#make(it);
    if (this.#listMode) this.$track.prepend(li);
    else { // next to enter the strip: before the first item not yet in view
      const w = this.$vp.clientWidth;
      const ref = [...this.$track.children].find((c) => c === this.#spacer || this.#pos(c) - this.#x >= w);
      this.$track.insertBefore(li, ref);
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
    const max = Math.max(1, parseInt(this.#a("limit"), 10) || 20);
    while (this.#order.length > max) {
      const id = this.#order.pop();
      this.#items.delete(id);
      this.#drop(this.#li(id));
    }
  }
  #drop(li) {
    if (!li) return;
    if (li === this.$track.firstChild) this.#x = 0;
    li.remove();
    this.#fit();
    this.#move();
  }
  #li(id) { return [...this.$track.children].find((c) => c.dataset.id === id); }

  // ---- rendering ----
  get #lang() { return this.#a("lang") || this.#meta?.lang || this.feed || "en"; }
  get #t() { return T[this.#lang.split("-")[0].toLowerCase()] || T.en; }
  get #label() { return this.#a("label") || this.#t[0]; }
  get #listMode() { return this.#a("mode") === "list" || this.#calm.matches; }
  async #loadMeta() {
    const feed = this.feed, list = await feeds(String(this.#base));
    if (feed === this.feed) { this.#meta = list.find((f) => f.id === feed); this.#setup(); }
  }
  #setup() {
    const t = this.#t, bar = this.$bar, theme = this.#a("theme"), s = this.#status || "connecting";
    bar.lang = this.#lang;
    bar.dir = this.#a("dir") || this.#meta?.direction || (RTL.test(bar.lang) ? "rtl" : "ltr");
    bar.classList.toggle("dark", theme === "dark" || (theme !== "light" && this.#dark.matches));
    bar.setAttribute("aria-label", this.#meta?.title ? `${this.#label} — ${this.#meta.title}` : this.#label);
    this.$label.textContent = this.#label;
    this.$dot.dataset.state = s;
    this.$dot.title = t[4 + STATES.indexOf(s)];
    this.$dot.setAttribute("aria-label", this.$dot.title);
    this.$pause.title = this.#held ? t[3] : t[2];
    this.$pause.setAttribute("aria-label", this.$pause.title);
    this.$pause.setAttribute("aria-pressed", this.#held);
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
    li.dataset.version = it.version;
    li.lang = lang;
    const body = el(url ? "a" : "span", "body", null, url && "link");
    if (url) Object.assign(body, { href: url, target: "_blank", rel: "noopener noreferrer" });
    if (flash) body.append(el("span", "badge", this.#t[1], "badge"));
    // <bdi> isolates each run, so an English source inside Arabic text keeps its own direction
    if (it.source) body.append(el("bdi", "src", it.source, "source"), ": ");
    body.append(el("bdi", "txt", it.text, "text"));
    const time = el("time", "time", ago(it.published_at, lang), "time");
    time.dateTime = it.published_at;
    time.title = new Date(it.published_at).toLocaleString(lang);
    li.replaceChildren(body, time);
  }

  // ---- motion: the strip is a ring; the item that scrolls out at the start moves to the end ----
  #pos(c) { return this.$bar.dir === "rtl" ? this.$track.offsetWidth - c.offsetLeft - c.offsetWidth : c.offsetLeft; }
  #move() {
    const x = this.$bar.dir === "rtl" ? this.#x : -this.#x;
    this.$track.style.transform = this.#listMode ? "" : `translateX(${x}px)`;
  }
  #fit() { // keep the ring longer than the viewport plus its widest item, so no jump is ever seen
    const s = this.#spacer;
    if (!s.isConnected) return;
    let sum = 0, max = 0;
    for (const c of this.$track.children) if (c !== s) { sum += c.offsetWidth; max = Math.max(max, c.offsetWidth); }
    s.style.width = `${sum && Math.max(0, this.$vp.clientWidth + max - sum)}px`;
  }
  get #stopped() {
    return this.#held || this.#hover || this.#focus || document.hidden || this.#listMode || !this.#order.length;
  }
  #anim() {
    if (this.#raf || this.#stopped || !this.#up) return;
    this.#last = 0;
    this.#raf = requestAnimationFrame(this.#tick);
  }
  #tick = (now) => {
    this.#raf = 0;
    if (this.#stopped) return;
    this.#x += ((this.#last ? Math.min(100, now - this.#last) : 0) * (parseFloat(this.#a("speed")) || 60)) / 1000;
    this.#last = now;
    const first = this.$track.firstChild;
    if (first && this.#x >= first.offsetWidth) {
      this.#x -= first.offsetWidth;
      this.$track.append(first);
      if (first === this.#spacer) this.#fit();
    }
    this.#move();
    this.#raf = requestAnimationFrame(this.#tick);
  };
  #reveal(node) { // keyboard focus on a story: rotate the ring so that it is in view
    const li = node.closest("li");
    this.$vp.scrollLeft = 0;
    if (this.#listMode || li?.parentNode !== this.$track) return;
    while (this.$track.firstChild !== li) this.$track.append(this.$track.firstChild);
    this.#x = 0;
    this.#fit();
    this.#move();
  }
}

if (!customElements.get("breaking-ticker")) customElements.define("breaking-ticker", BreakingTicker);
