"""This node's clock against the broker's.

Redis stamps every event with its own ``TIME``; a node measures publish → dispatch latency (and
paces its fan-out) as its clock minus that stamp, so an offset shows up as latency that is not
there (or hides latency that is).
"""

from __future__ import annotations

from collections.abc import Callable

from ticker.checks.result import Result, fail, ok, warn

WARN_SECONDS = 0.050
FAIL_SECONDS = 1.0
SAMPLES = 3


def measure_offset(server_time: Callable[[], tuple[int, int]], now: Callable[[], float],
                   samples: int = SAMPLES) -> tuple[float, float]:
    """(offset, round trip) in seconds: ``now()`` minus the server's ``TIME``, taken at the
    middle of the round trip; the sample with the shortest round trip wins."""
    best: tuple[float, float] | None = None
    for _ in range(samples):
        before = now()
        seconds, micros = server_time()
        after = now()
        offset = (before + after) / 2 - (seconds + micros / 1e6)
        rtt = after - before
        if best is None or rtt < best[1]:
            best = (offset, rtt)
    assert best is not None
    return best


def check_clock(offset: float, rtt: float, name: str = "clock") -> Result:
    """WARN above 50 ms, FAIL above 1 s (the uncertainty is half the round trip)."""
    size = abs(offset)
    direction = "ahead of" if offset > 0 else "behind"
    found = (f"this node's clock is {size * 1000:.1f} ms {direction} Redis TIME "
             f"(± {rtt * 500:.1f} ms)")
    action = ("run NTP/chrony on every node and on the Redis host (timedatectl "
              "set-ntp true; chronyc tracking shows the offset)")
    if size > FAIL_SECONDS:
        return fail(name, f"{found}: publish → dispatch latency and the fan-out's pacing are "
                    "off by as much; alerts on dispatch lag become meaningless", action)
    if size > WARN_SECONDS:
        return warn(name, f"{found}: publish → dispatch latency reads off by as much", action)
    return ok(name, found)
