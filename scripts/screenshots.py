"""Take the screenshots in docs/images/ of the widget, the reader page and the desk.

Starts its own ``ticker serve`` on a free port (embedded broker, throwaway secret), publishes a
few sample items (pinning one, for the pinned-item pictures), and photographs the pages in
Debian's Chromium through Playwright:

    python scripts/screenshots.py [--out docs/images] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Sample items: invented for the pictures, in the shape real ones take.
SAMPLES: dict[str, list[dict[str, Any]]] = {
    "en": [
        {"text": "Parliament passes the budget bill by 212 votes to 190", "source": "AP",
         "category": "politics", "regions": ["europe"], "url": "https://example.com/budget"},
        {"text": "Oil prices climb 3% after producers announce an output cut", "source": "Reuters",
         "category": "economy", "url": "https://example.com/oil"},
        {"text": "Aid convoy reaches the north of the Strip for the first time in two weeks",
         "source": "UN spokesperson", "category": "politics", "regions": ["palestine"]},
        {"text": "What we know: strikes on three villages, 12 dead, 40 wounded, roads closed",
         "source": "Our live desk", "category": "politics", "regions": ["mena"],
         "pin": True},
        {"text": "Death toll from strikes on southern Lebanon rises to 12",
         "source": "Lebanese Ministry of Health", "urgency": 1, "category": "health",
         "regions": ["mena"], "url": "https://example.com/lebanon"},
    ],
    "ar": [
        {"text": "أسعار النفط ترتفع 3% بعد إعلان المنتجين خفض الإنتاج", "source": "Reuters",
         "category": "economy"},
        {"text": "قصف مدفعي على المناطق الشرقية لمدينة غزة", "source": "مراسل الميادين في غزة",
         "regions": ["palestine"]},
        {"text": "ارتفاع حصيلة الغارات على جنوب لبنان إلى 12 شهيدًا",
         "source": "وزارة الصحة اللبنانية", "urgency": 1, "regions": ["mena"]},
    ],
    "es": [
        {"text": "El banco central sube los tipos de interés 0,25 puntos", "source": "Reuters",
         "category": "economy"},
        {"text": "Un terremoto de magnitud 6,1 sacude el sur de Chile", "source": "EFE",
         "urgency": 2, "category": "environment", "regions": ["latin-america"]},
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ticker", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"ticker serve exited:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"ticker serve did not start:\n{log.read_text()}")


def still(page: Page) -> None:
    """Stop every strip at its start, so the pictures do not depend on timing."""
    page.mouse.move(0, 0)
    page.evaluate("""() => document.querySelectorAll('breaking-ticker').forEach((t) => {
        t.pause(); t.play(); t.pause();
    })""")


def wait_live(page: Page, count: int = 1) -> None:
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('breaking-ticker')]
                 .filter((t) => t.status === 'live').length >= {count}""", timeout=15_000)
    page.wait_for_timeout(300)


def widget_shot(page: Page, base: str, feed: str, query: str, path: Path, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 400})
    page.goto(f"{base}/embed/{feed}{query}")
    wait_live(page)
    page.evaluate("() => document.querySelector('breaking-ticker').pause()")
    page.locator("breaking-ticker").screenshot(path=str(path))
    print("wrote", path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--chromium",
                        default=os.environ.get("TICKER_CHROMIUM", "/usr/bin/chromium"))
    opts = parser.parse_args()
    out: Path = opts.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TICKER_CONFIG")}
    env["TICKER_SECRET"] = secrets.token_urlsafe(48)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_server(env, port, Path(tmp) / "server.log")
        try:
            token = subprocess.run(
                [sys.executable, "-m", "ticker", "token", "create", "--sub", "desk", "--role",
                 "editor", "--feeds", "en,ar,es"],
                env=env, capture_output=True, text=True, check=True,
            ).stdout.strip()
            contributor = subprocess.run(
                [sys.executable, "-m", "ticker", "token", "create", "--sub", "carla", "--role",
                 "contributor", "--feeds", "en,ar,es"],
                env=env, capture_output=True, text=True, check=True,
            ).stdout.strip()
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
                pins: dict[str, str] = {}
                for feed, items in SAMPLES.items():
                    for sample in items:
                        body = {k: v for k, v in sample.items() if k != "pin"}
                        r = http.post(f"/api/v1/feeds/{feed}/items", json=body)
                        r.raise_for_status()
                        if sample.get("pin"):
                            pins[feed] = r.json()["id"]
                shoot(base, token, out, opts.chromium, contributor=contributor, pin=lambda: [
                    http.put(f"/api/v1/feeds/{feed}/pin", json={"id": item_id})
                    .raise_for_status() for feed, item_id in pins.items()])
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def shoot(base: str, token: str, out: Path, chromium: str, pin: Callable[[], object],
          contributor: str = "") -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                      device_scale_factor=1)
        page = context.new_page()
        widget_shot(page, base, "en", "?theme=light", out / "widget-en-light.png", 1100)
        widget_shot(page, base, "ar", "?theme=dark", out / "widget-ar-dark.png", 1100)
        widget_shot(page, base, "en", "?mode=list&theme=light&limit=4", out / "widget-list.png",
                    640)
        pin()  # from here on the feed has a pinned item
        widget_shot(page, base, "en", "?theme=light", out / "widget-pinned-strip.png", 1100)
        widget_shot(page, base, "en", "?mode=list&theme=light&limit=3",
                    out / "widget-pinned-list.png", 640)

        page.set_viewport_size({"width": 1280, "height": 900})
        page.emulate_media(color_scheme="light")
        page.goto(base + "/")
        wait_live(page, 4)
        still(page)
        page.screenshot(path=str(out / "reader.png"), full_page=True)
        print("wrote reader.png")

        page.goto(base + "/desk")
        page.fill("#token", token)
        page.press("#token", "Tab")
        page.wait_for_selector("#recent li[data-id]")
        # one item under embargo, so the desk shows its countdown
        page.fill("#text", "Court finds the former minister guilty on all counts")
        page.click("#timing summary")
        page.fill("#embargoed_until", page.evaluate("""() => {
            const d = new Date(Date.now() + 3600e3 + 5e3);
            return new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19); }"""))
        page.fill("#note", "Embargo agreed with the court press office")
        page.click("#publish")
        page.wait_for_selector("#queue li[data-id]")
        page.fill("#text", "Explosion heard near the port; no word yet on casualties")
        page.fill("#source", "Our correspondent in Beirut")
        page.select_option("#urgency", "2")
        page.fill("#url", "ftp://example.com/story")
        page.click("#publish")
        page.wait_for_selector("#err-url:not(:empty)")
        wait_live(page)
        still(page)
        page.screenshot(path=str(out / "desk.png"), full_page=True)
        print("wrote desk.png")
        if contributor:
            queue_shot(page, base, contributor, out / "desk-queue.png")
        browser.close()


def queue_shot(page: Page, base: str, contributor: str, path: Path) -> None:
    """The desk's approval queue with two stringers' submissions, the second just arrived."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {contributor}"}) as http:
        for body in ({"text": "Ferry service to the islands suspended until further notice",
                      "source": "Port authority", "urgency": 3,
                      "note": "Confirmed by phone with the harbour master"},
                     {"text": "Bridge on the coast road reopened after inspection",
                      "source": "Roads agency"}):
            http.post("/api/v1/feeds/en/items", json=body).raise_for_status()
            page.wait_for_selector(f"#approvals li:has-text({body['text']!r})")
    page.locator("#approval-card").screenshot(path=str(path))
    print("wrote", path.name)


if __name__ == "__main__":
    main()
