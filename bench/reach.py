"""Push throughput and webhook lag, measured in-process against a local HTTP sink.

    .venv/bin/python bench/reach.py [--subscribers 1000,10000] [--burst 2000]

- **push**: one flash item to N subscribers, each with its own P-256 key (RFC 8291 encryption
  and a VAPID header per request), through the shared guarded client (64 connections) to a
  push-service stand-in on loopback (a separate process that answers every POST ``201``).
  Reports pushes/s on the one core the event loop runs on, the CPU time per push, and the
  process's peak RSS growth.
- **webhooks**: a burst of M events appended to the embedded broker while a webhook sender
  delivers them to the sink one by one (in order, each signed); reports the time until the
  sender's lag is back to 0, events/s delivered, and the largest lag seen.

Not a test: nothing is asserted. The numbers go into docs/push.md and docs/webhooks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import subprocess
import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ticker import codec
from ticker.brokers.base import Change
from ticker.brokers.coordination import MemoryCoordination
from ticker.brokers.memory import MemoryBroker
from ticker.config import WebhookConfig
from ticker.model import ItemDraft
from ticker.outbound.client import Outbound
from ticker.outbound.rules import AddressRules, OriginList
from ticker.reach.metrics import ReachMetrics
from ticker.reach.push.fanout import Pushed, PushFanout
from ticker.reach.push.sender import Message, PushSender
from ticker.reach.push.subscriptions import Subscription, SubscriptionStore
from ticker.reach.push.vapid import Vapid
from ticker.reach.webhooks.sender import WebhookSender

SINK = r'''
import asyncio, sys
class Sink(asyncio.Protocol):
    def connection_made(self, t): self.t, self.buf = t, b""
    def data_received(self, data):
        self.buf += data
        while True:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep: return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length": length = int(value)
            if len(rest) < length: return
            self.buf = rest[length:]
            self.t.write(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
async def main():
    server = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
'''


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bench_push(origin: str, count: int, registry_holder: list[object]) -> None:
    from prometheus_client import CollectorRegistry

    coordination = MemoryCoordination()
    store = SubscriptionStore(coordination)
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    for n in range(count):  # one key for all: the encryption work per push is the same
        await store.add(Subscription(endpoint=f"{origin}/push/{n}", p256dh=b64url(point),
                                     auth=b64url(os.urandom(16)), feed="en"))
    registry = CollectorRegistry()
    registry_holder.append(registry)
    metrics = ReachMetrics(registry, ["en"], [])
    outbound = Outbound(AddressRules(["127.0.0.1"]), concurrency=64)
    sender = PushSender(outbound, OriginList([origin]),
                        Vapid(ec.generate_private_key(ec.SECP256R1()), "mailto:bench@localhost"),
                        store, metrics)
    fanout = PushFanout("en", MemoryBroker(), coordination, store, sender, "bench")
    item = {"id": "0000000000100000001", "feed": "en", "text": "Flash: " + "x" * 120,
            "urgency": 1, "regions": [], "lang": "en", "version": 1, "status": "usable",
            "author": "bench", "published_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "2026-01-01T00:00:00.000Z"}
    message = Message("en", codec.encode({"type": "item", "item": item}), 1, item["id"])
    before = rss_mb()
    cpu, wall = time.process_time(), time.perf_counter()
    await fanout._send_to_matching(message, Pushed(1, None, []))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    sent = metrics.push_sent.labels("en")._value.get()
    print(f"push  N={count:>6}: {sent:.0f} sent in {wall:.2f} s = {sent / wall:,.0f} pushes/s; "
          f"CPU {cpu / count * 1e6:.0f} µs/push; peak RSS +{rss_mb() - before:.0f} MB "
          f"(store + sends), total {rss_mb():.0f} MB")
    await outbound.aclose()


async def bench_webhooks(origin: str, burst: int) -> None:
    from prometheus_client import CollectorRegistry

    broker = MemoryBroker(history=burst + 10)
    await broker.start(["en"], lambda *a: None, lambda: None)
    coordination = MemoryCoordination()
    outbound = Outbound(AddressRules(["127.0.0.1"]), concurrency=4)
    metrics = ReachMetrics(CollectorRegistry(), ["en"], ["sink"])
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    hook = WebhookConfig(url=f"{origin}/hook", name="sink", secret=secret, feeds=["en"])
    sender = WebhookSender(hook, broker, coordination, outbound, metrics, "bench", poll=0.05)
    await sender.begin()
    task = asyncio.create_task(sender.run())
    body = codec.encode(ItemDraft(feed="en", text="Burst item " + "y" * 100, urgency=3,
                                  regions=[], lang="en", author="bench", version=1,
                                  status="usable"))
    start = time.perf_counter()
    for _ in range(burst):
        await broker.publish("en", Change("item", body))
    published = time.perf_counter() - start
    worst = 0
    for _ in range(100_000):
        lag = sum(sender.lag.values()) if sender.lag else burst
        worst = max(worst, lag)
        position = sender.positions.get("en")
        if position is not None and position.seq >= burst:
            break
        await asyncio.sleep(0.01)
    drained = time.perf_counter() - start
    print(f"hooks burst={burst}: appended in {published:.2f} s; all delivered after "
          f"{drained:.2f} s = {burst / drained:,.0f} events/s in order; worst lag {worst} events")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await outbound.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", default="1000,10000")
    parser.add_argument("--burst", type=int, default=2000)
    args = parser.parse_args()
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        origin = f"http://127.0.0.1:{sink.stdout.readline().strip()}"
        keep: list[object] = []
        for count in (int(n) for n in args.subscribers.split(",")):
            asyncio.run(bench_push(origin, count, keep))
        asyncio.run(bench_webhooks(origin, args.burst))
    finally:
        sink.kill()
        sink.wait()


if __name__ == "__main__":
    main()
