// ticker client: the public v1 live protocol for pages and apps. Standalone ES module.
// connect(server).subscribe(feed, {filter}, onFrame): WebSocket with SSE fallback, resume by
// cursor, backoff with jitter; and one connection per browser: the tabs of an origin elect a
// leader (Web Locks) that holds the connection and relays frames to the others (BroadcastChannel).
const SILENCE = 60000, CAP = 30000, SEEN = 2000;
const KINDS = ["subscribed", "snapshot", "item", "update", "retract", "pin"];
const tab = Math.random().toString(36).slice(2);
let serial = 0;

/** Whether a new item passes a filter (corrections, retractions and pins always pass). */
export const matches = (it, f = {}) => (!f.categories?.length || f.categories.includes(it.category)) &&
  (!f.regions?.length || (it.regions || []).some((r) => f.regions.includes(r))) &&
  !(f.max_urgency && it.urgency > f.max_urgency);
const same = (f, g) => JSON.stringify(f || {}) === JSON.stringify(g || {});
const feedOf = (m) => m.feed || m.item?.feed;

// ---- the wire: one real connection (a WebSocket, or one EventSource per feed) ----
class Wire {
  constructor(base, transport, onFrame, onStatus) {
    Object.assign(this, { base, transport, onFrame, onStatus });
    this.feeds = new Map(); // feed -> {filter, cursor, fresh, es}
    this.ws = null; this.timer = 0; this.retry = 0; this.wsFails = 0; this.sse = false;
    this.heard = 0; this.status = "";
    this.clock = setInterval(() => this.ws && Date.now() - this.heard > SILENCE && this.reconnect(), 5000);
    this.wake = () => { if (!document.hidden && this.status !== "live") this.reconnect(); };
    addEventListener("online", this.wake);
    addEventListener("offline", () => this.setStatus("offline"));
    document.addEventListener("visibilitychange", this.wake);
    this.open();
  }
  setStatus(s) { if (s !== this.status) { this.status = s; this.onStatus(s); } }
  /** Subscribe `feed` (again). fresh: without the cursor, so that a snapshot comes. */
  want(feed, filter, { fresh = false, since = null } = {}) {
    const f = this.feeds.get(feed) || { cursor: since };
    Object.assign(f, { filter, fresh: fresh || !f.cursor });
    this.feeds.set(feed, f);
    if (this.ws?.readyState === 1) this.send(feed);
    else if (this.sse) this.openSSE(feed);
  }
  drop(feed) {
    const f = this.feeds.get(feed);
    if (!f) return;
    this.feeds.delete(feed);
    f.es?.close();
    if (this.ws?.readyState === 1) this.ws.send(JSON.stringify({ type: "unsubscribe", feed }));
  }
  send(feed) {
    const f = this.feeds.get(feed), m = { type: "subscribe", feed };
    if (f.filter && Object.keys(f.filter).length) m.filter = f.filter;
    if (f.cursor && !f.fresh) m.since = f.cursor;
    f.fresh = false;
    this.ws.send(JSON.stringify(m));
  }
  close() {
    clearTimeout(this.timer);
    if (this.ws) { this.ws.onclose = this.ws.onmessage = null; this.ws.close(); }
    this.ws = null;
    for (const f of this.feeds.values()) { f.es?.close(); f.es = null; }
  }
  reconnect() { this.retry = 0; this.open(); }
  later(fast) {
    this.close();
    const n = this.retry++;
    // exponential, jittered, capped; a restarting or shedding server (1012/1013) is retried soon
    const d = fast ? 250 + Math.random() * 750 : Math.min(CAP, 500 * 2 ** n) * (0.5 + Math.random() / 2);
    this.setStatus(navigator.onLine === false || n >= 5 ? "offline" : "reconnecting");
    this.timer = setTimeout(() => this.open(), d);
  }
  open() {
    this.close();
    if (this.status !== "offline") this.setStatus(this.status ? "reconnecting" : "connecting");
    this.heard = Date.now();
    const t = this.transport;
    if (t === "sse" || (t !== "websocket" && (this.sse || !globalThis.WebSocket))) {
      this.sse = true;
      for (const feed of this.feeds.keys()) this.openSSE(feed);
      return;
    }
    const u = new URL("ws", this.base);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    const ws = (this.ws = new WebSocket(u));
    let got = false;
    ws.onopen = () => { for (const feed of this.feeds.keys()) this.send(feed); };
    ws.onmessage = (e) => {
      got = true;
      this.heard = Date.now();
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      this.frame(m);
    };
    ws.onclose = (e) => {
      // a socket that never carried a frame: blocked by a proxy, or no server. Try SSE after 3.
      if (!got && ++this.wsFails >= 3 && globalThis.EventSource && t !== "websocket") this.sse = true;
      this.later(e.code === 1012 || e.code === 1013);
    };
  }
  openSSE(feed) {
    const f = this.feeds.get(feed);
    f.es?.close();
    const u = new URL(`api/v1/feeds/${encodeURIComponent(feed)}/events`, this.base);
    if (f.cursor && !f.fresh) u.searchParams.set("since", f.cursor);
    f.fresh = false;
    for (const [k, v] of Object.entries(f.filter || {})) u.searchParams.set(k, String(v));
    const es = (f.es = new EventSource(u));
    let ok = false;
    es.onopen = () => { ok = true; this.heard = Date.now(); };
    for (const type of [...KINDS, "ping"]) {
      es.addEventListener(type, (e) => {
        ok = true;
        this.heard = Date.now();
        if (type === "ping") return;
        let m;
        try { m = JSON.parse(e.data); } catch { return; }
        this.frame({ ...m, type, cursor: m.cursor ?? (e.lastEventId || undefined) });
      });
    }
    es.onerror = () => {
      if (es !== f.es) return;
      if (!ok && this.transport !== "sse") { this.sse = false; this.wsFails = 0; } // neither works: alternate
      this.later(false); // reconnect ourselves, with backoff and a fresh ?since=
    };
  }
  frame(m) {
    if (m.type === "ping" || m.type === "unsubscribed") return;
    const feed = feedOf(m), f = feed && this.feeds.get(feed);
    if (m.cursor && f) f.cursor = m.cursor;
    if (m.type === "subscribed" || m.type === "snapshot") {
      this.retry = this.wsFails = 0;
      if (m.type === "snapshot" || m.recovered) this.setStatus("live");
    }
    this.onFrame(feed || null, m);
  }
}

// ---- subscriptions, and the hub that routes frames to them (in this tab or, led, in all) ----
class Subscription {
  constructor(hub, feed, filter, since, handler) {
    Object.assign(this, { hub, feed, filter, since, handler, key: `${tab}:${++serial}` });
    this.cursor = since; this.live = false; this.seen = new Set();
  }
  get status() { return this.hub.status; }
  /** A frame for this subscription: deduplicated by cursor, filtered like the server filters. */
  deliver(m) {
    if (m.type === "snapshot") {
      this.live = true;
      this.seen.clear();
      const items = (m.items || []).filter((it) => matches(it, this.filter));
      m = { ...m, items };
    } else if (m.type === "subscribed") { // resumed: the events after our cursor follow
      if (!m.recovered || !this.cursor) return;
      this.live = true;
    } else if (m.type === "error") { // frames carry no feed: for the readers still waiting
      if (this.live) return;
    } else {
      if (!this.live || (m.cursor && this.seen.has(m.cursor))) return;
      if (m.type === "item" && !matches(m.item, this.filter)) { this.cursor = m.cursor; return; }
    }
    if (m.cursor) {
      this.cursor = m.cursor;
      this.seen.add(m.cursor);
      if (this.seen.size > SEEN) this.seen.delete(this.seen.values().next().value);
    }
    this.handler(m);
  }
  reconnect() { this.hub.reconnect(); }
  close() { this.hub.remove(this); }
}

class Hub {
  constructor(base, transport, shared) {
    Object.assign(this, { base, transport });
    this.subs = new Map(); // key -> Subscription in this tab
    this.status = "connecting";
    this.wire = null; // only the leader has one
    this.interests = new Map(); // leader: key -> {feed, filter, cursor, live} of every tab
    this.targets = new Map(); // leader: feed -> keys that the next snapshot is for
    this.channel = null;
    if (shared && globalThis.BroadcastChannel && navigator.locks) {
      const name = `ticker-client:${base}|${transport}`;
      this.channel = new BroadcastChannel(name);
      this.channel.onmessage = (e) => this.message(e.data);
      navigator.locks.request(name, () => new Promise(() => this.lead())); // held while the tab lives
      addEventListener("pagehide", () => { if (!this.wire) this.post({ t: "bye", tab }); });
      addEventListener("pageshow", (e) => { if (e.persisted && !this.wire) this.post({ t: "hello", subs: this.announce() }); });
      this.post({ t: "hello", subs: this.announce() });
    } else this.lead();
  }
  post(msg) { this.channel?.postMessage(msg); }
  announce() {
    return [...this.subs.values()].map((s) => ({ key: s.key, feed: s.feed, filter: s.filter, cursor: s.cursor, live: s.live }));
  }
  lead() {
    this.wire = new Wire(this.base, this.transport, (feed, m) => this.fromWire(feed, m), (s) => {
      this.setStatus(s);
      this.post({ t: "status", s });
    });
    for (const i of this.announce()) this.join(i);
    this.post({ t: "leader" }); // every other tab tells what it reads
  }
  setStatus(s) {
    this.status = s;
    for (const sub of this.subs.values()) sub.handler({ type: "status", status: s });
  }
  add(feed, filter, since, handler) {
    const sub = new Subscription(this, feed, filter, since, handler);
    this.subs.set(sub.key, sub);
    const i = { key: sub.key, feed, filter, cursor: since, live: false };
    if (this.wire) this.join(i);
    else this.post({ t: "sub", i });
    queueMicrotask(() => handler({ type: "status", status: this.status }));
    return sub;
  }
  remove(sub) {
    if (!this.subs.delete(sub.key)) return;
    if (this.wire) this.leave([sub.key]);
    else this.post({ t: "unsub", keys: [sub.key] });
  }
  reconnect() { if (this.wire) this.wire.reconnect(); else this.post({ t: "reconnect" }); }
  // -- the leader --
  join(i) {
    const feed = i.feed, others = [...this.interests.values()].filter((o) => o.feed === feed);
    this.interests.set(i.key, i);
    const wired = this.wire.feeds.get(feed);
    const filter = [...others, i].every((o) => same(o.filter, i.filter)) ? i.filter : null;
    if (i.live && wired) return; // a live reader of a feed already on the wire: nothing to do
    if (!wired) { // the first reader of the feed: resume from its cursor if it has one
      this.targets.set(feed, new Set([...others, i].map((o) => o.key)));
      this.wire.want(feed, filter, { since: i.cursor, fresh: !i.live && !i.cursor });
    } else { // a new reader: ask for a snapshot for it; a changed filter means one for all, and
      // so does SSE, whose stream is reopened (events in flight on the old one would be lost)
      const all = !same(filter, wired.filter) || this.wire.sse;
      this.targets.set(feed, new Set([...(this.targets.get(feed) || []), i.key, ...(all ? others.map((o) => o.key) : [])]));
      this.wire.want(feed, filter, { fresh: true });
    }
  }
  leave(keys) {
    for (const key of keys) {
      const i = this.interests.get(key);
      if (!i) continue;
      this.interests.delete(key);
      if (![...this.interests.values()].some((o) => o.feed === i.feed)) this.wire.drop(i.feed);
    }
  }
  fromWire(feed, m) {
    let to;
    if (m.type === "snapshot") { // for the readers that asked; after a lost cursor, for all
      const asked = this.targets.get(feed);
      this.targets.delete(feed);
      to = asked && asked.size ? [...asked] : null;
    } else if (m.type === "subscribed" && !m.recovered) return; // a snapshot follows
    this.post({ t: "frame", feed, m, to });
    this.route(feed, m, to);
  }
  // -- every tab --
  route(feed, m, to) {
    for (const sub of this.subs.values()) {
      if (feed && sub.feed !== feed) continue;
      if (to && m.type === "snapshot" && !to.includes(sub.key) && sub.live) continue;
      sub.deliver(m);
    }
  }
  message(d) {
    if (d.t === "frame") this.route(d.feed, d.m, d.to);
    else if (d.t === "status") this.setStatus(d.s);
    else if (d.t === "leader") this.post({ t: "hello", subs: this.announce() });
    else if (!this.wire) return; // the rest is for the leader
    else if (d.t === "hello" || d.t === "sub") {
      for (const i of d.subs || [d.i]) this.join(i);
      this.post({ t: "status", s: this.status }); // the newcomer learns where the connection is
    }
    else if (d.t === "unsub") this.leave(d.keys);
    else if (d.t === "bye") this.leave([...this.interests.keys()].filter((k) => k.startsWith(`${d.tab}:`)));
    else if (d.t === "reconnect") this.wire.reconnect();
  }
}

const hubs = new Map();

/**
 * The connection to a ticker server, shared by everything on the page (and, by default, by
 * every tab of the origin). `server`: the server's base URL (default: where this module is).
 */
export function connect(server, { transport = "auto", shared = true } = {}) {
  const base = String(new URL(server || "./", new URL("./", import.meta.url)));
  const key = `${base}|${transport}|${shared}`;
  if (!hubs.has(key)) hubs.set(key, new Hub(base, transport, shared));
  const hub = hubs.get(key);
  return {
    base,
    get status() { return hub.status; },
    get leader() { return hub.wire !== null; },
    subscribe(feed, { filter = {}, since = null } = {}, onFrame = () => {}) {
      return hub.add(feed, filter, since, onFrame);
    },
    reconnect() { hub.reconnect(); },
  };
}
