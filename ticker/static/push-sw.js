// The ticker's service worker: shows flash alerts pushed by the server (docs/push.md).
// One notification per item (tag = feed and item id): a correction replaces it, a hold, kill or
// expiry closes it. A click opens the item's link, or the feed's live page.
// Messages are handled one at a time, in the order they arrived: showNotification and
// getNotifications are asynchronous, so a retraction handled alongside the item it closes could
// look for the notification before it is shown and leave it on screen, and a correction could
// be overtaken by the item it corrects.
const tagOf = (feed, id) => `ticker-${feed}-${id}`;

async function show(message) {
  if (message.type === "retract") {
    const shown = await self.registration.getNotifications({ tag: tagOf(message.feed, message.id) });
    for (const n of shown) n.close();
    return;
  }
  const item = message.item;
  if (!item || !item.text) return;
  const scope = self.registration.scope;
  const url = /^https?:/.test(item.url || "") ? item.url : new URL(`live/${item.feed}`, scope).href;
  await self.registration.showNotification(item.source || "Breaking news", {
    body: item.text,
    tag: tagOf(item.feed, item.id),
    renotify: message.type === "item",
    lang: item.lang || "",
    dir: "auto",
    timestamp: Date.parse(item.updated_at) || Date.now(),
    data: { url, feed: item.feed, id: item.id },
  });
}

let handled = Promise.resolve(); // the last message's handling; the next one waits for it

self.addEventListener("push", (event) => {
  let message = null;
  try { message = event.data ? event.data.json() : null; } catch { message = null; }
  if (!message) return;
  const turn = handled.then(() => show(message));
  handled = turn.catch(() => undefined); // one message failing does not block the next
  event.waitUntil(turn);
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data && event.notification.data.url;
  if (url) event.waitUntil(self.clients.openWindow(url));
});

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
