// <breaking-ticker>: a live breaking-news strip. ES module; its one import is the ticker client
// (client.js: the connection — WebSocket, SSE fallback, resume, one socket per browser — and the
// protocol), so this file holds the feed's state on screen, the rendering and the motion.
import { connect, matches } from "./client.js";

const BASE = new URL("./", import.meta.url);
const RTL = /^(ar|he|fa|ur|ps|yi|dv|sd|ug|ckb)\b/i;
const T = {
  en: ["BREAKING", "FLASH", "Pause", "Play", "Connecting", "Live", "Reconnecting", "Offline", "Pinned"],
  ar: ["عاجل", "عاجل جدًا", "إيقاف مؤقت", "تشغيل", "جارٍ الاتصال", "مباشر", "جارٍ إعادة الاتصال", "غير متصل", "مثبت"],
  es: ["ÚLTIMA HORA", "URGENTE", "Pausar", "Reanudar", "Conectando", "En directo", "Reconectando", "Sin conexión",
    "Fijado"],
};
const STATES = ["connecting", "live", "reconnecting", "offline"];
const CSS = `:host{display:block}:host([hidden]){display:none}
.bar{--_bg:var(--ticker-bg,#fff);--_fg:var(--ticker-fg,#151515);--_mu:var(--ticker-muted,#595959);
--_fl:var(--ticker-flash,#b00020);--_sep:var(--ticker-separator,#d4d4d4);--_pin:var(--ticker-pin,#0b4f8a);
--_pinbg:var(--ticker-pin-bg,#eef4fb);position:relative;display:flex;
min-height:2.5em;border-block:1px solid var(--_sep);color:var(--_fg);background:var(--_bg);
font:var(--ticker-font-size,15px)/1.4 var(--ticker-font,system-ui,sans-serif)}
.dark{--_bg:var(--ticker-bg,#141414);--_fg:var(--ticker-fg,#f1f1f1);--_mu:var(--ticker-muted,#b3b3b3);
--_fl:var(--ticker-flash,#ff8a80);--_sep:var(--ticker-separator,#3d3d3d);
--_pin:var(--ticker-pin,#9cc3f5);--_pinbg:var(--ticker-pin-bg,#17212d)}
:host([size=small]) .bar{font-size:var(--ticker-font-size,13px)}:host([size=large]) .bar{font-size:var(--ticker-font-size,19px)}
.head{display:flex;align-items:center;gap:.5em;padding:0 .8em;background:var(--ticker-accent,#c8102e);
color:var(--ticker-accent-fg,#fff);font-weight:700;letter-spacing:.03em;white-space:nowrap}
.dot{width:.55em;height:.55em;border-radius:50%;background:#8a8a8a}
.dot[data-state=live]{background:#2fd15a}.dot[data-state$=connecting]{background:#ffb300}
.vp{position:relative;flex:1;min-width:0;overflow:hidden}
.track{position:absolute;inset-block:0;inset-inline-start:0;display:flex;align-items:center;width:max-content;
margin:0;padding:0;list-style:none;will-change:transform}
li{white-space:nowrap;padding:0 1.2em;border-inline-end:1px solid var(--_sep)}.spacer{flex:none;padding:0;border:0}
a{color:var(--ticker-link,inherit);text-decoration:none}a:hover,a:focus-visible{text-decoration:underline}
:focus-visible{outline:2px solid var(--ticker-focus,#1a73e8);outline-offset:-2px}
.src{font-weight:650}.time{margin-inline-start:.6em;color:var(--_mu);font-size:.85em}.flash .txt{font-weight:700;color:var(--_fl)}
.badge{margin-inline-end:.5em;padding:.1em .4em;border-radius:.2em;background:var(--_fl);color:var(--_bg);font-size:.75em;font-weight:700}
.pinned{background:var(--_pinbg)}.pin{margin-inline-end:.5em;padding:.1em .4em;border-radius:.2em;background:var(--_pin);
color:var(--_bg);font-size:.75em;font-weight:700}.slot{margin:0;padding:0;list-style:none}.slot:empty{display:none}
[data-mode=list] .slot{border-bottom:2px solid var(--_pin)}
.pause{min-width:2.75em;padding:0 .8em;border:0;border-inline-start:1px solid var(--_sep);background:none;color:inherit;font:inherit;cursor:pointer}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
[data-mode=list]{flex-direction:column}[data-mode=list] .head{padding:.4em .8em}[data-mode=list] .vp{overflow:visible}
[data-mode=list] .pause{display:none}[data-mode=list] li{white-space:normal;border:0;padding:.5em .8em}
[data-mode=list] .track{position:static;flex-direction:column;align-items:stretch;width:auto;transform:none!important}
[data-mode=list] li+li{border-top:1px solid var(--_sep)}.ready slot{display:none}@media (prefers-reduced-motion:reduce){.track{transform:none!important}}`;
const HTML = `<div class="bar" part="bar" role="region"><div class="head" part="header"><span class="label" part="label">
</span><span class="dot" part="status" role="img"></span></div><div class="vp" part="viewport"><slot></slot><ul class="slot"
part="pinned" role="list"></ul><ul class="track" part="list" role="list"></ul></div><button class="pause" part="pause" type="button"></button><div class="sr"
aria-live="polite"></div></div>`;
const CONN = ["feed", "categories", "regions", "max-urgency", "transport", "server"];
const meta = new Map(); // server base -> Promise<feed list>
const fmts = new Map();
let sheet;

const feeds = (base) => meta.get(base) || meta.set(base, fetch(new URL("api/v1/feeds", base))
  .then((r) => r.json()).then((j) => (Array.isArray(j) ? j : j.feeds || [])).catch(() => [])).get(base);
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
  const s = Math.min(0, (Date.parse(ts) - Date.now()) / 1000);
  if (!fmts.has(lang)) {
    try { fmts.set(lang, new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "short" })); }
    catch { fmts.set(lang, new Intl.RelativeTimeFormat("en", { numeric: "auto", style: "short" })); }
  }
  const [n, unit] = s > -45 ? [0, "second"] : s > -3600 ? [s / 60, "minute"] : s > -86400 ? [s / 3600, "hour"]
    : [s / 86400, "day"];
  return Number.isNaN(s) ? "" : fmts.get(lang).format(Math.round(n), unit);
};

// One ticker's state and behaviour, in a closure.
function mount(host) {
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = HTML;
  try { // constructed sheets are not blocked by a host page's style-src CSP
    if (!sheet) { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); }
    root.adoptedStyleSheets = [sheet];
  } catch { root.prepend(el("style", null, CSS)); }
  const [bar, label, dot, vp, slot, track, btn, live] =
    [".bar", ".label", ".dot", ".vp", ".slot", ".track", ".pause", ".sr"].map((s) => root.querySelector(s));
  const spacer = el("li", "spacer");
  spacer.setAttribute("aria-hidden", "true");
  const calm = matchMedia("(prefers-reduced-motion: reduce)"), dark = matchMedia("(prefers-color-scheme: dark)");
  const items = new Map();
  let order = []; // ids of the listed items, newest first (the pinned item is not among them)
  let pin = null, wantPin = null, pinLi = null; // the pinned item; the pin asked for last; its <li>
  let sub = null, clock = 0, status = "", info = null, up = false;
  let x = 0, raf = 0, last = 0, hover = false, focus = false, held = false;

  const a = (name) => host.getAttribute(name) || "";
  const feed = () => a("feed");
  const base = () => { try { return new URL(a("server") || BASE, BASE); } catch { return BASE; } };
  const lang = () => a("lang") || info?.lang || feed() || "en";
  const t = () => T[lang().split("-")[0].toLowerCase()] || T.en;
  const name = () => a("label") || t()[0];
  const listMode = () => a("mode") === "list" || calm.matches;
  const rtl = () => bar.dir === "rtl";
  const emit = (type, detail) =>
    host.dispatchEvent(new CustomEvent(`ticker-${type}`, { detail, bubbles: true, composed: true }));

  // ---- connection: a subscription on the page's shared connection (client.js) ----
  const filter = () => {
    const f = {};
    for (const k of ["categories", "regions"]) {
      const v = a(k).split(",").map((s) => s.trim()).filter(Boolean);
      if (v.length) f[k] = v;
    }
    const u = parseInt(a("max-urgency"), 10);
    if (u >= 1 && u <= 9) f.max_urgency = u;
    return f;
  };
  const match = (it, f = filter()) => matches(it, f);
  const setStatus = (s) => {
    if (s === status) return;
    status = s;
    paint();
    emit("status", { status: s });
  };
  const close = () => { sub?.close(); sub = null; };
  const open = () => {
    close();
    if (!feed() || !up) return;
    const t = a("transport");
    sub = connect(base(), { transport: t === "sse" || t === "websocket" ? t : "auto" })
      .subscribe(feed(), { filter: filter() }, frame);
  };
  const reconnect = () => (sub ? sub.reconnect() : open());
  const tickle = () => {
    for (const el of vp.querySelectorAll("time")) el.textContent = ago(el.dateTime, el.parentNode.lang);
  };
  const visible = () => { if (!document.hidden) anim(); };

  // ---- events: the feed's state (items, order, pin), changed only by frames; the view follows ----
  const frame = (m) => {
    const k = m.type;
    if (k === "status") setStatus(m.status);
    else if (k === "snapshot") replace(m.items || [], m.pinned || null);
    else if (k === "item" || k === "update") upsert(m.item, k === "item");
    else if (k === "retract") remove(m.id); // killed, held (withheld) or expired: it leaves either way
    else if (k === "pin") setPin(m.id ?? null, m.item);
    else if (k === "error") { // e.g. an unknown feed or filter: nothing will come, so say so
      console.warn("breaking-ticker:", m.code, m.message);
      if (status !== "live") setStatus("offline");
      emit("error", { code: m.code, message: m.message });
    }
  };
  const onAir = (it) => it && (it.status ?? "usable") === "usable";
  // newest first: by the time it went live, then by id (ids sort in log order)
  const newer = (p, q) => (p.published_at === q.published_at ? p.id > q.id : p.published_at > q.published_at);
  const slotOf = (it) => { // where `it` belongs in `order`
    const i = order.findIndex((o) => newer(it, items.get(o)));
    return i < 0 ? order.length : i;
  };
  const replace = (list, pinned) => {
    items.clear();
    order = [];
    wantPin = null;
    const f = filter();
    pin = onAir(pinned) ? pinned : null; // the desk's choice for every reader: no filter applies
    for (const it of list) if (onAir(it) && match(it, f) && !items.has(it.id) && it.id !== pin?.id) place(it);
    trim();
    render();
    bar.classList.add("ready"); // server-rendered children (a slot until now) give way
    emit("snapshot", { items: order.map((i) => items.get(i)), pinned: pin, cursor: sub?.cursor ?? null });
  };
  const upsert = (it, fresh) => {
    if (!it) return;
    if (!onAir(it)) return remove(it.id);
    if (pin?.id === it.id) { // a correction of the pinned item
      if (it.version < pin.version) return;
      pin = it;
      if (pinLi) fill(pinLi, it, true); // in place, as any correction
      return emit("update", { item: it });
    }
    const old = items.get(it.id);
    if (old) { // a correction (or a repeat): change it in place
      if (it.version < old.version) return;
      items.set(it.id, it);
      const li = find(it.id);
      if (li) fill(li, it);
      return emit("update", { item: it });
    }
    // new, released from a hold, or gone live at its embargo: in its place by time
    if (!fresh || !match(it) || !enlist(it)) return;
    if (order[0] === it.id) live.textContent = `${name()}: ${it.source ? `${it.source}: ` : ""}${it.text}`;
    emit("item", { item: it });
  };
  const place = (it) => { items.set(it.id, it); order.splice(slotOf(it), 0, it.id); };
  const enlist = (it) => { // into the list and the view; false when the limit leaves it out
    place(it);
    trim();
    return items.has(it.id) && (added(it), true);
  };
  const unlist = (id) => {
    if (!items.delete(id)) return false;
    order = order.filter((i) => i !== id);
    drop(find(id));
    return true;
  };
  const remove = (id) => { // held, killed or expired; the pinned item is then unpinned too
    if (pin?.id === id) { pin = null; showPin(); emit("pin", { item: null }); } else if (!unlist(id)) return;
    emit("retract", { id });
  };
  const setPin = async (id, given) => {
    if ((pin?.id ?? null) === id) return;
    wantPin = id;
    // a listed item moves up to the pinned place; the event carries it, or else it is read by id
    const next = id === null ? null : (given?.id === id && given) || items.get(id) || await fetchItem(id);
    if (wantPin !== id) return; // another pin, or a new snapshot, came meanwhile
    const old = pin;
    unlist(id);
    pin = onAir(next) ? next : null;
    if (old && match(old)) enlist(old); // unpinned: back in the list, in its place by time
    showPin();
    emit("pin", { item: pin });
  };
  const fetchItem = (id) => fetch(new URL(`api/v1/feeds/${encodeURIComponent(feed())}/items/${encodeURIComponent(id)}`,
    base())).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  const trim = () => {
    const max = Math.max(1, parseInt(a("limit"), 10) || 20);
    while (order.length > max) {
      const id = order.pop();
      items.delete(id);
      drop(find(id));
    }
  };

  // ---- rendering: the DOM follows the state above ----
  const loadInfo = async () => {
    const f = feed(), list = await feeds(String(base()));
    if (f === feed()) { info = list.find((i) => i.id === f); paint(); }
  };
  const paint = () => {
    const w = t(), theme = a("theme"), s = status || "connecting";
    bar.lang = lang();
    bar.dir = a("dir") || info?.direction || (RTL.test(bar.lang) ? "rtl" : "ltr");
    bar.classList.toggle("dark", theme === "dark" || (theme !== "light" && dark.matches));
    bar.setAttribute("aria-label", info?.title ? `${name()} — ${info.title}` : name());
    label.textContent = name();
    dot.dataset.state = s;
    dot.title = w[4 + STATES.indexOf(s)];
    dot.setAttribute("aria-label", dot.title);
    btn.title = held ? w[3] : w[2];
    btn.setAttribute("aria-label", btn.title);
    btn.setAttribute("aria-pressed", held);
    btn.textContent = held ? "\u25B6\uFE0E" : "\u275A\u275A";
    slot.setAttribute("aria-label", w[8]);
    if (bar.dataset.mode !== (listMode() ? "list" : "scroll")) render();
    // the "Pinned" mark follows the strip's language (refilled only when that changes: keeps focus)
    else if (pin && pinLi && pinLi.querySelector(".pin").textContent !== w[8]) fill(pinLi, pin, true);
  };
  const render = () => {
    const listed = listMode();
    bar.dataset.mode = listed ? "list" : "scroll";
    pinLi = pin && make(pin, true);
    slot.replaceChildren(...(listed && pinLi ? [pinLi] : []));
    // the strip: the pinned item first, then the list newest first, then the spacer that closes the ring
    track.replaceChildren(...(!listed && pinLi ? [pinLi] : []), ...order.map((id) => make(items.get(id))));
    if (!listed) track.append(spacer);
    x = 0;
    move();
    fit();
    anim();
  };
  const added = (it) => { // `it` has just joined `order`
    const li = make(it), i = order.indexOf(it.id);
    if (listMode()) track.insertBefore(li, find(order[i + 1]) || null);
    else if (i === 0) { // the newest is next to enter the strip: before the first item not yet in view
      const w = vp.clientWidth;
      track.insertBefore(li, [...track.children].find((c) => c === spacer || pos(c) - x >= w));
    } else { // an older one (released from a hold, unpinned) goes back after the next newer one
      const prev = find(order[i - 1]) || (pinLi?.parentNode === track ? pinLi : null);
      track.insertBefore(li, prev ? prev.nextSibling : spacer);
    }
    fit();
    anim();
  };
  const showPin = () => { // the pinned item: above the list, or the first entry of the strip's ring
    if (pinLi) drop(pinLi);
    pinLi = pin && make(pin, true);
    if (!pinLi) return;
    if (listMode()) slot.replaceChildren(pinLi);
    // after the spacer, where a round begins: at the front while the strip stands at its start
    else if (!spacer.nextSibling && x === 0) track.prepend(pinLi);
    else track.insertBefore(pinLi, spacer.nextSibling);
    fit();
    anim();
  };
  const drop = (li) => {
    if (!li) return;
    if (li === track.firstChild) x = 0;
    li.remove();
    fit();
    move();
  };
  const find = (id) => (id == null ? null : [...track.children].find((c) => c.dataset.id === id && c !== pinLi));
  const make = (it, pinned = false) => {
    const li = el("li");
    li.dataset.id = it.id;
    fill(li, it, pinned);
    return li;
  };
  const fill = (li, it, pinned = li === pinLi) => {
    const flash = it.urgency <= 2, url = safeUrl(it.url), l = it.lang || lang();
    const marks = `${flash ? " flash" : ""}${pinned ? " pinned" : ""}`;
    li.className = marks.trim();
    li.setAttribute("part", `item${marks}`);
    li.dataset.version = it.version;
    li.lang = l;
    const body = el(url ? "a" : "span", "body", null, url && "link");
    if (url) Object.assign(body, { href: url, target: "_blank", rel: "noopener noreferrer" });
    // the mark, in the strip's language, is said first by a screen reader
    if (pinned) body.append(Object.assign(el("span", "pin", t()[8], "pin"), { lang: lang() }));
    if (flash) body.append(el("span", "badge", t()[1], "badge"));
    // <bdi> isolates each run, so an English source inside Arabic text keeps its own direction
    if (it.source) body.append(el("bdi", "src", it.source, "source"), ": ");
    body.append(el("bdi", "txt", it.text, "text"));
    const time = el("time", "time", ago(it.published_at, l), "time");
    time.dateTime = it.published_at;
    try { time.title = new Date(it.published_at).toLocaleString(l); } catch { /* not a language tag */ }
    li.replaceChildren(body, time);
  };

  // ---- motion: the strip is a ring; the item that scrolls out at the start moves to the end ----
  const pos = (c) => (rtl() ? track.offsetWidth - c.offsetLeft - c.offsetWidth : c.offsetLeft);
  const move = () => { track.style.transform = listMode() ? "" : `translateX(${rtl() ? x : -x}px)`; };
  const fit = () => { // keep the ring longer than the viewport plus its widest item: no jump is seen
    if (!spacer.isConnected) return;
    let sum = 0, max = 0;
    for (const c of track.children) if (c !== spacer) { sum += c.offsetWidth; max = Math.max(max, c.offsetWidth); }
    spacer.style.width = `${sum && Math.max(0, vp.clientWidth + max - sum)}px`;
  };
  const stopped = () => held || hover || focus || document.hidden || listMode() || !(order.length || pin);
  const anim = () => {
    if (raf || stopped() || !up) return;
    last = 0;
    raf = requestAnimationFrame(tick);
  };
  const tick = (now) => {
    raf = 0;
    if (stopped()) return;
    x += ((last ? Math.min(100, now - last) : 0) * (parseFloat(a("speed")) || 60)) / 1000;
    last = now;
    const first = track.firstChild;
    if (first && x >= first.offsetWidth) {
      x -= first.offsetWidth;
      track.append(first);
      if (first === spacer) fit();
    }
    move();
    raf = requestAnimationFrame(tick);
  };
  const reveal = (node) => { // keyboard focus on a story: rotate the ring so that it is in view
    const li = node.closest("li");
    vp.scrollLeft = 0;
    if (listMode() || li?.parentNode !== track) return;
    while (track.firstChild !== li) track.append(track.firstChild);
    x = 0;
    fit();
    move();
  };
  const pause = (on) => { held = on; paint(); anim(); };

  btn.onclick = () => pause(!held);
  vp.onpointerenter = () => { hover = true; };
  vp.onpointerleave = () => { hover = false; anim(); };
  host.addEventListener("focusin", (e) => {
    const n = e.composedPath()[0];
    if ((focus = vp.contains(n))) reveal(n);
  });
  host.addEventListener("focusout", () => { focus = false; anim(); });
  calm.addEventListener("change", paint);
  dark.addEventListener("change", paint);
  const ro = new ResizeObserver(fit);

  return {
    get status() { return status; },
    get cursor() { return sub?.cursor ?? null; },
    get items() { return order.map((i) => items.get(i)); },
    get pinned() { return pin; },
    pause,
    reconnect,
    start() {
      document.addEventListener("visibilitychange", visible);
      clock = setInterval(tickle, 5000);
      ro.observe(vp);
      up = true;
      paint();
      loadInfo();
      open();
    },
    stop() {
      up = false;
      document.removeEventListener("visibilitychange", visible);
      clearInterval(clock);
      ro.disconnect();
      cancelAnimationFrame(raf);
      raf = 0;
      close();
    },
    changed(attr) {
      if (!up) return;
      if (attr === "limit") trim();
      if (!CONN.includes(attr)) return paint();
      items.clear();
      order = [];
      pin = wantPin = null;
      render();
      loadInfo();
      open(); // a new subscription: a snapshot for the new feed or filter
    },
  };
}

export class BreakingTicker extends HTMLElement {
  static observedAttributes = [...CONN, "label", "theme", "mode", "limit", "size", "lang", "dir"];
  #t = mount(this);
  get feed() { return this.getAttribute("feed") || ""; }
  get status() { return this.#t.status; }
  get cursor() { return this.#t.cursor; }
  get items() { return this.#t.items; }
  get pinned() { return this.#t.pinned; }
  pause() { this.#t.pause(true); }
  play() { this.#t.pause(false); }
  reconnect() { this.#t.reconnect(); }
  connectedCallback() {
    this.#t.start();
    if (this.hasAttribute("push")) import("./static/push.js").then((m) => m.attachToWidget(this), () => {});
  }
  disconnectedCallback() { this.#t.stop(); }
  attributeChangedCallback(attr, old, now) { if (old !== now) this.#t.changed(attr); }
}

if (!customElements.get("breaking-ticker")) customElements.define("breaking-ticker", BreakingTicker);
