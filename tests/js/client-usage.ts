// Type-checked by tests/browser/test_browser_client.py (tsc --strict): how an app uses /client.js.
import { connect, matches, type Frame, type Item } from "../../ticker/static/client.js";

const shown = new Map<string, Item>();
let pinned: Item | null = null;

const ticker = connect("https://ticker.example/", { transport: "auto", shared: true });
const sub = ticker.subscribe("en", { filter: { max_urgency: 2, regions: ["mena"] } }, (f: Frame) => {
  switch (f.type) {
    case "snapshot":
      shown.clear();
      for (const it of f.items) shown.set(it.id, it);
      pinned = f.pinned ?? null;
      break;
    case "item":
    case "update":
      shown.set(f.item.id, f.item);
      break;
    case "retract": {
      const why: "retracted" | "withheld" | "expired" | undefined = f.reason;
      shown.delete(f.id);
      void why;
      break;
    }
    case "pin":
      pinned = f.id === null ? null : f.item ?? shown.get(f.id) ?? null;
      break;
    case "status":
      document.title = f.status;
      break;
    case "error":
      console.warn(f.code, f.message);
      break;
    case "subscribed":
      console.log(f.recovered);
      break;
  }
});
const resumed = ticker.subscribe("ar", { since: sub.cursor });
resumed.close();
const flash: boolean = matches({} as Item, { max_urgency: 2 });
console.log(ticker.leader, ticker.status, sub.status, flash, pinned);
sub.reconnect();
