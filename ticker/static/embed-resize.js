// Optional, for pages that embed ticker iframes (/embed/{feed}, or oEmbed's html): each iframe
// takes the height its ticker reports. <script src="https://TICKER/embed-resize.js" async></script>
addEventListener("message", (e) => {
  const d = e.data;
  if (!d || d.type !== "ticker:resize" || !(d.height > 0)) return;
  for (const frame of document.getElementsByTagName("iframe")) {
    if (frame.contentWindow === e.source) {
      frame.style.height = `${Math.min(Math.ceil(d.height), 4000)}px`;
      return;
    }
  }
});
