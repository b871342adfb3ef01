// "Get flash alerts": opt-in Web Push for one feed. Standalone ES module, no dependencies.
// Used by the reader page (pushButton) and, behind the `push` attribute, by <breaking-ticker>
// (attachToWidget). Subscribing needs the page to be on the ticker's own origin (a service
// worker is same-origin); a widget on another site links to the ticker's reader page instead.
const BASE = new URL("../", import.meta.url);
const LABELS = {
  en: ["Get flash alerts", "Flash alerts on", "Alerts blocked in this browser", "Alerts not available here"],
  ar: ["تلقي التنبيهات العاجلة", "التنبيهات العاجلة مفعّلة", "التنبيهات محظورة في هذا المتصفح", "التنبيهات غير متاحة هنا"],
  es: ["Recibir alertas urgentes", "Alertas urgentes activadas", "Alertas bloqueadas en este navegador", "Alertas no disponibles aquí"],
};
const KEY = (feed) => `ticker-push:${feed}`;

export const supported = () =>
  "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

const key64 = (text) => {
  const raw = atob((text + "=".repeat((4 - (text.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
};

async function registration() {
  await navigator.serviceWorker.register(new URL("push-sw.js", BASE), { scope: BASE.pathname });
  return navigator.serviceWorker.ready;
}

export async function subscribe(feed, filter = {}) {
  if (await Notification.requestPermission() !== "granted") throw new Error("permission denied");
  const reg = await registration();
  const r = await fetch(new URL("api/v1/push/key", BASE));
  if (!r.ok) throw new Error(`push key: ${r.status}`);
  const { public_key: key } = await r.json();
  const sub = await reg.pushManager.getSubscription() ||
    await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key64(key) });
  const answer = await fetch(new URL("api/v1/push/subscriptions", BASE), {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ subscription: sub.toJSON(), feed, ...filter }),
  });
  if (answer.status !== 201) throw new Error(`subscribe: ${answer.status}`);
  localStorage.setItem(KEY(feed), "1");
}

export async function unsubscribe(feed) {
  const reg = await registration();
  const sub = await reg.pushManager.getSubscription();
  localStorage.removeItem(KEY(feed));
  if (!sub) return;
  await fetch(new URL("api/v1/push/subscriptions", BASE), {
    method: "DELETE", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ endpoint: sub.endpoint }),
  });
  await sub.unsubscribe();
  for (let i = 0; i < localStorage.length; i++) { // the endpoint served every feed: say so
    const k = localStorage.key(i);
    if (k && k.startsWith("ticker-push:")) localStorage.removeItem(k);
  }
}

// A toggle button for `feed`; `lang` picks the labels.
export function pushButton(feed, lang = "en", filter = {}) {
  const t = LABELS[String(lang).split("-")[0]] || LABELS.en;
  const b = document.createElement("button");
  b.type = "button";
  b.className = "push";
  b.setAttribute("part", "push");
  const paint = (state) => {
    b.dataset.state = state;
    b.textContent = state === "on" ? t[1] : state === "blocked" ? t[2] : state === "unavailable" ? t[3] : t[0];
    b.setAttribute("aria-pressed", String(state === "on"));
    b.disabled = state === "blocked" || state === "unavailable" || state === "busy";
  };
  if (!supported() || new URL(document.baseURI).origin !== BASE.origin) paint("unavailable");
  else if (Notification.permission === "denied") paint("blocked");
  else paint(localStorage.getItem(KEY(feed)) ? "on" : "off");
  b.addEventListener("click", async () => {
    const was = b.dataset.state;
    paint("busy");
    try {
      if (was === "on") { await unsubscribe(feed); paint("off"); }
      else { await subscribe(feed, filter); paint("on"); }
    } catch (err) {
      paint(Notification.permission === "denied" ? "blocked" : was);
      b.title = String(err && err.message || err);
      b.dispatchEvent(new CustomEvent("ticker-push-error", { detail: b.title, bubbles: true, composed: true }));
    }
  });
  return b;
}

// <breaking-ticker push>: the control in the widget's bar. On another site the widget cannot
// register the ticker's service worker, so it links to the ticker's reader page instead.
export function attachToWidget(host) {
  const bar = host.shadowRoot && host.shadowRoot.querySelector(".bar");
  if (!bar || bar.querySelector(".push")) return;
  const feed = host.getAttribute("feed") || "";
  const lang = host.getAttribute("lang") || feed;
  let control;
  if (new URL(document.baseURI).origin === BASE.origin) {
    const u = parseInt(host.getAttribute("max-urgency") || "", 10);
    control = pushButton(feed, lang, u >= 1 && u <= 2 ? { max_urgency: u } : {});
  } else {
    control = document.createElement("a");
    control.className = "push";
    control.setAttribute("part", "push");
    control.href = new URL(`?push=${encodeURIComponent(feed)}#feed-${encodeURIComponent(feed)}`, BASE).href;
    control.target = "_blank";
    control.rel = "noopener";
    control.textContent = (LABELS[lang.split("-")[0]] || LABELS.en)[0];
  }
  control.style.cssText = "padding:0 .8em;border:0;border-inline-start:1px solid var(--_sep);" +
    "background:none;color:inherit;font:inherit;cursor:pointer;white-space:nowrap;display:flex;align-items:center";
  bar.append(control);
}
