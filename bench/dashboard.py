"""Render the Grafana dashboard's panels from a short scripted run: docs/images/dashboard-bench.png.

Grafana cannot run here, Prometheus can: this starts a private redis-server, one ``ticker serve``
on Redis and a real Prometheus (Debian's ``prometheus``) that scrapes the node every second and
loads deploy/prometheus/ticker-rules.yml. A scripted run then makes every panel move: readers
connect, a steady rate, a burst, readers that stop reading (cut with 1013), a killed pub/sub
connection (a broker reconnect), and a reconnect storm with cursors older than the ring (log
reads). On a build with webhooks and Web Push, a local partner on loopback takes a webhook
(answering 500 through the burst and the slow readers, then 200) and is the push service of 100
subscribers (one in ten answers 410, one in ten 500); every fifth item is a flash (urgency 2),
which is pushed. Afterwards every panel's expressions from deploy/grafana/ticker.json are asked of
Prometheus with ``query_range`` — the dashboard's own queries, with ``$__rate_interval`` set to
5 s — and drawn with matplotlib, one subplot per panel, the phases shaded.

    .venv/bin/pip install matplotlib   # (bench/requirements.txt)
    .venv/bin/python bench/dashboard.py [--out docs/images/dashboard-bench.png]

Loopback only; every wait is bounded. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import redis
import websockets
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "ticker.json"
RULES = ROOT / "deploy" / "prometheus" / "ticker-rules.yml"
SECRET = "bench-dashboard-" + "k3Vq9ZpX7sLm2Rt8" * 3
READERS = 400
SLOW_READERS = 40
PUSH_SUBSCRIBERS = 100
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"bench-dashboard-webhook-key!").decode()
RATE_INTERVAL = "5s"
TEXT = "Ceasefire talks resume in Cairo as envoys arrive; officials say a draft is ready. " * 4
WAIT = 30.0  # upper bound on any wait for a process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise SystemExit(f"dashboard: {what} did not come up")


def has_reach() -> bool:
    """Whether this build has webhooks and Web Push (their settings exist)."""
    from ticker.config import Settings

    return "webhooks" in Settings.__struct_fields__


class Partner:
    """A webhook receiver and a push service on loopback, in a thread: webhooks answer 500
    while ``failing``, push endpoints ``/push/N`` answer 410 (N % 10 == 0), 500 (N % 10 == 1)
    or 201."""

    def __init__(self) -> None:
        self.failing = False
        partner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path.startswith("/hooks/"):
                    status = 500 if partner.failing else 200
                else:
                    number = int(self.path.rsplit("/", 1)[-1])
                    status = {0: 410, 1: 500}.get(number % 10, 201)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def push_subscription(endpoint: str) -> dict[str, Any]:
    """A browser's subscription: a fresh P-256 key and auth secret (RFC 8291)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"endpoint": endpoint, "keys": {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}}


@dataclass
class Stack:
    """redis-server, ticker serve and prometheus, in a temporary directory."""

    dir: Path
    redis_port: int = field(default_factory=free_port)
    ticker_port: int = field(default_factory=free_port)
    prom_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    partner: Partner | None = None

    def start(self) -> Stack:
        self._spawn(["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--dir", str(self.dir)], "redis")
        wait_for(lambda: redis.Redis(port=self.redis_port).ping(), "redis-server")
        config = self.dir / "ticker.toml"
        # a small outbox and ring so that a short run shows cuts and log reads
        toml = "[limits]\noutbox_max_bytes = 131072\nring_size = 50\n"
        env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
               "TICKER_SECRET": SECRET, "TICKER_PUBLISH_RATE": "100000/minute",
               "TICKER_CONFIG": str(config)}
        if has_reach():
            self.partner = Partner()
            hook = self.partner.origin + "/hooks/cms"
            toml += (f'\n[[webhooks]]\nname = "partner-cms"\nurl = "{hook}"\n'
                     f'secret = "{WEBHOOK_SECRET}"\nfeeds = ["en"]\n')
            env.update({"TICKER_OUTBOUND_ALLOW": "127.0.0.1", "TICKER_PUSH_SERVICES":
                        self.partner.origin, "TICKER_PUSH_CONTACT": "mailto:desk@example.org"})
        config.write_text(toml)
        self._spawn([sys.executable, "-m", "ticker", "serve", "--port", str(self.ticker_port),
                     "--log-level", "warning"], "ticker", env)
        wait_for(lambda: httpx.get(f"{self.ticker}/readyz").status_code == 200, "ticker")
        prom = self.dir / "prometheus.yml"
        prom.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "ticker", "static_configs": [
                {"targets": [f"127.0.0.1:{self.ticker_port}"]}]}]}))
        self._spawn(["prometheus", f"--config.file={prom}",
                     f"--storage.tsdb.path={self.dir / 'tsdb'}",
                     f"--web.listen-address=127.0.0.1:{self.prom_port}"], "prometheus")
        wait_for(lambda: httpx.get(f"{self.prometheus}/-/ready").status_code == 200,
                 "prometheus")
        return self

    def _spawn(self, cmd: list[str], name: str, env: dict[str, str] | None = None) -> None:
        log = (self.dir / f"{name}.log").open("wb")
        self.processes.append(subprocess.Popen(cmd, env=env, stdout=log,
                                               stderr=subprocess.STDOUT))

    @property
    def ticker(self) -> str:
        return f"http://127.0.0.1:{self.ticker_port}"

    @property
    def prometheus(self) -> str:
        return f"http://127.0.0.1:{self.prom_port}"

    def stop(self) -> None:
        if self.partner is not None:
            self.partner.close()
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


class Reader:
    """A WebSocket reader that keeps its cursor, so it can come back with it."""

    def __init__(self, url: str, feed: str) -> None:
        self.url, self.feed = url, feed
        self.cursor: str | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        subscribe: dict[str, Any] = {"type": "subscribe", "feed": self.feed}
        if self.cursor is not None:
            subscribe["since"] = self.cursor
        with contextlib.suppress(websockets.ConnectionClosed, OSError):
            async with connect(self.url) as ws:
                await ws.send(json.dumps(subscribe))
                async for message in ws:
                    cursor = json.loads(message).get("cursor")
                    if cursor:
                        self.cursor = cursor

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def slow_reader(url: str, port: int) -> ClientConnection:
    """A reader of feed ``es`` that subscribes and then never reads: a tiny receive buffer, a
    queue of one. Kernel buffers still take about 2.7 MB before the node's outbox fills."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    ws = await connect(url, sock=sock, max_queue=1)
    await ws.send(json.dumps({"type": "subscribe", "feed": "es"}))
    return ws


class Publisher:
    def __init__(self, base: str) -> None:
        from ticker import auth

        token = auth.issue(SECRET, sub="bench", role="editor", feeds=["en", "ar", "es"],
                           ttl=3600)
        self.client = httpx.AsyncClient(base_url=base, timeout=10,
                                        headers={"Authorization": f"Bearer {token}"})
        self.count = 0

    async def one(self, feed: str = "en", large: bool = False) -> None:
        self.count += 1
        urgency = 2 if self.count % 5 == 0 and not large else 3  # every fifth a flash: pushed
        body: dict[str, Any] = {"text": f"{self.count}. {TEXT}"[:400], "urgency": urgency}
        if large:  # about 2.5 KB an event
            body["url"] = "https://news.example.org/live/" + "x" * 1900
        with contextlib.suppress(httpx.HTTPError):
            await self.client.post(f"/api/v1/feeds/{feed}/items", json=body)

    async def at_rate(self, per_second: float, seconds: float, feed: str = "en",
                      large: bool = False) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(int(per_second * seconds)):
            await asyncio.sleep(max(0.0, start + n / per_second - loop.time()))
            await self.one(feed, large)

    async def burst(self, count: int, in_flight: int = 8) -> None:
        queue = iter(range(count))

        async def worker() -> None:
            for _ in queue:
                await self.one()

        await asyncio.gather(*(worker() for _ in range(in_flight)))


@dataclass
class Timeline:
    phases: list[tuple[str, float, float]] = field(default_factory=list)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.time()
        print(f"dashboard: {name}", flush=True)
        yield
        self.phases.append((name, start, time.time()))


async def scenario(stack: Stack, timeline: Timeline) -> None:
    ws_url = f"ws://127.0.0.1:{stack.ticker_port}/ws"
    publisher = Publisher(stack.ticker)
    readers = [Reader(ws_url, "en" if i % 4 else "ar") for i in range(READERS)]
    if stack.partner is not None:
        for number in range(PUSH_SUBSCRIBERS):
            await publisher.client.post("/api/v1/push/subscriptions", json={
                "feed": "en", "subscription": push_subscription(
                    f"{stack.partner.origin}/push/{number}")})
    with timeline.phase("readers connect"):
        for reader in readers:
            reader.start()
            await asyncio.sleep(0.01)
        await asyncio.sleep(4)
    with timeline.phase("5 items/s"):
        await asyncio.gather(publisher.at_rate(5, 20), publisher.at_rate(1, 20, "ar"))
    if stack.partner is not None:
        stack.partner.failing = True  # the webhook receiver fails until the broker blip
    with timeline.phase("burst"):
        await publisher.burst(600)
        await asyncio.sleep(4)
    with timeline.phase("slow readers"):
        slow = [await slow_reader(ws_url, stack.ticker_port) for _ in range(SLOW_READERS)]
        await asyncio.gather(publisher.at_rate(100, 14, "es", large=True),
                             publisher.at_rate(5, 14))
        await asyncio.sleep(4)
    if stack.partner is not None:
        stack.partner.failing = False
    with timeline.phase("pub/sub killed"):
        with redis.Redis(port=stack.redis_port) as client:
            client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        await publisher.at_rate(5, 10)
    with timeline.phase("reconnect storm"):
        leaving = readers[: READERS * 3 // 4]
        await asyncio.gather(*(reader.stop() for reader in leaving))
        await publisher.at_rate(50, 2)  # 100 items: more than the ring of 50 holds, less
        # than the outbox (a resume that does not fit in outbox_max_bytes is cut at once)
        for reader in leaving:
            reader.start()
        await publisher.at_rate(5, 10)
    with timeline.phase("5 items/s"):
        await publisher.at_rate(5, 15)
        await asyncio.sleep(3)
    for ws in slow:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)
    await asyncio.gather(*(reader.stop() for reader in readers))
    await publisher.client.aclose()


def query_range(stack: Stack, expr: str, start: float, end: float) -> list[dict[str, Any]]:
    promql = expr.replace("$__rate_interval", RATE_INTERVAL).replace("$instance", ".*")
    answer = httpx.get(f"{stack.prometheus}/api/v1/query_range",
                       params={"query": promql, "start": start, "end": end, "step": "1s"},
                       timeout=30).json()
    if answer.get("status") != "success":
        raise SystemExit(f"dashboard: Prometheus refused {promql!r}: {answer}")
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def legend(template: str, labels: dict[str, str]) -> str:
    text = template
    for key, value in labels.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def render(stack: Stack, timeline: Timeline, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in json.loads(DASHBOARD.read_text())["panels"]
              if p["type"] == "timeseries"]
    start, end = timeline.phases[0][1] - 5, timeline.phases[-1][2] + 5
    columns = 3
    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(16, 3.2 * rows), squeeze=False)
    shades = ["#f2f2f2", "#e0ecf8"]
    for ax, panel in zip(axes.flat, panels, strict=False):
        drawn = found = 0
        for target in panel["targets"]:
            for series in query_range(stack, target["expr"], start, end):
                found += 1
                xs = [float(t) - start for t, _ in series["values"]]
                ys = [float(v) for _, v in series["values"]]
                if not any(ys):
                    continue  # series at 0 from start-up that this run never moved
                ax.plot(xs, ys, linewidth=1.2,
                        label=legend(target["legendFormat"], series["metric"]))
                drawn += 1
        for index, (_, begin, finish) in enumerate(timeline.phases):
            ax.axvspan(begin - start, finish - start, color=shades[index % 2], zorder=0)
            ax.text((begin + finish) / 2 - start, 1.0, str(index + 1), ha="center", va="top",
                    fontsize=7, color="#666666", transform=ax.get_xaxis_transform())
        ax.set_title(panel["title"], fontsize=10)
        ax.tick_params(labelsize=8)
        if drawn:
            ax.legend(fontsize=7, loc="upper left")
        else:
            ax.text(0.5, 0.5, "all 0 in this run" if found else "no such series on this build",
                    ha="center", va="center",
                    transform=ax.transAxes, color="#888888")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    names = " | ".join(f"{i + 1}. {name}" for i, (name, _, _) in enumerate(timeline.phases))
    fig.suptitle(f"ticker dashboard panels, one node on Redis, {READERS} readers — "
                 f"phases (shaded): {names}; x: seconds", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    print(f"dashboard: wrote {out}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/images/dashboard-bench.png")
    args = parser.parse_args()
    for tool in ("redis-server", "prometheus"):
        if shutil.which(tool) is None:
            raise SystemExit(f"dashboard: {tool} is not installed")
    work = Path(tempfile.mkdtemp(prefix="ticker-dashboard-"))
    stack = Stack(work).start()
    timeline = Timeline()
    try:
        asyncio.run(scenario(stack, timeline))
        time.sleep(3)  # the last scrapes
        render(stack, timeline, args.out)
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
