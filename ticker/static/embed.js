// /embed/{feed}: the widget alone, full width, for an <iframe>. Query parameters become widget
// attributes; they are set with setAttribute, never written into HTML.
import "../widget.js";

const ATTRS = ["categories", "regions", "max-urgency", "label", "theme", "mode", "limit", "size",
  "speed", "transport", "lang", "dir"];
const feed = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop() || "");
const query = new URLSearchParams(location.search);
const ticker = document.createElement("breaking-ticker");
ticker.setAttribute("feed", feed);
for (const name of ATTRS) {
  const value = query.get(name) ?? query.get(name.replace("-", "_"));
  if (value !== null) ticker.setAttribute(name, value);
}
document.title = `${ticker.getAttribute("label") || "Breaking news"} — ${feed}`;
document.body.append(ticker);

// In an iframe, tell the host page how tall the ticker is (embed-resize.js on the host listens).
if (window.parent !== window) {
  let sent = 0;
  const report = () => {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height && height !== sent) {
      sent = height;
      window.parent.postMessage({ type: "ticker:resize", height }, "*");
    }
  };
  new ResizeObserver(report).observe(document.documentElement);
}
