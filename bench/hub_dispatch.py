"""Sans-I/O fan-out cost: dispatch one event to N subscribers and flush, no sockets.

    python bench/hub_dispatch.py [N] [EVENTS]

Prints the Python cost per delivery (hub dispatch + flush loop + a no-op write), i.e. what
ticker adds on top of the kernel's write() for each reader.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec

from ticker.brokers.base import Entry, Head
from ticker.hub import Hub, Outbox
from ticker.stamp import event_json, stamp_new
from ticker.transports.fanout import Fanout


class NullWriter:
    def write(self, data: bytes) -> None:
        pass

    def close_slow(self) -> None:
        pass


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    hub = Hub()
    hub.load("en", Head("bench", 0, [], []))
    fanout = Fanout(hub, 5.0)
    for _ in range(n):
        outbox = Outbox(NullWriter(), 1 << 20)
        hub.connect(outbox)
        hub.subscribe(outbox, "en", None, None)
    fanout.flush()
    draft = msgspec.json.encode({"feed": "en", "text": "x" * 120, "urgency": 4, "regions": [],
                                 "lang": "en", "author": "a", "version": 1,
                                 "status": "usable"})
    entries = []
    for seq in range(1, events + 1):
        ident, item = stamp_new(draft, 1_700_000_000_000 + seq, seq)
        entries.append(Entry(seq, event_json("item", f"bench:{seq}", "en", ident, item)))
    started = time.perf_counter()
    for entry in entries:
        hub.dispatch("en", "bench", entry)
        fanout.flush()
    took = time.perf_counter() - started
    print(f"N={n} events={events}: {took / (n * events) * 1e9:.0f} ns per delivery "
          f"(one flush per event)")


if __name__ == "__main__":
    main()
