"""The fan-out's counts: a socket write is counted when a reader's connection is written to."""

from __future__ import annotations

from tests.unit.test_hub import Reader, make_entry, new_hub
from ticker.transports.fanout import Fanout


class CountingReader(Reader):
    writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        super().write(data)


def test_socket_writes_count_the_writes_made() -> None:
    hub, _ = new_hub()
    readers = [CountingReader(hub) for _ in range(3)]
    for reader in readers:
        hub.subscribe(reader.outbox, "en", None, None)
    fanout = Fanout(hub, tick_seconds=1.0)
    fanout.flush()  # the snapshots: one write each
    assert fanout.writes == sum(r.writes for r in readers) == 3
    hub.dispatch("en", "abc123", make_entry(1))
    hub.dispatch("en", "abc123", make_entry(2))
    readers[0].outbox.paused = True  # its socket buffer is full: nothing is written to it
    fanout.flush()
    assert fanout.writes == sum(r.writes for r in readers) == 5
    assert fanout.deliveries == 3 * 2 + 2 * 2  # subscribed + snapshot each, two events to two
