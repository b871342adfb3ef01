"""Summarise a py-spy raw profile (``py-spy record -f raw``, see BENCH_PROFILE in run.py):
the share of samples by leaf frame and by inclusive frame, and by the buckets docs/benchmarks.md
reports. Samples of the event loop waiting in ``epoll_wait`` (idle: py-spy with native frames
keeps some) are left out, so the shares are of the time the server was working.

    python bench/profile_summary.py PROFILE.txt [--top 25]
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

# (bucket, substrings of a frame that put a sample in it); the first bucket that matches wins,
# looking from the leaf up
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("kernel write()/send()", ("write (libc", "send (libc", "__send (libc", "writev (libc")),
    ("kernel accept/read/close/epoll", ("accept4 (libc", "read (libc", "recv (libc",
                                        "close (libc", "epoll_ctl", "setsockopt (libc",
                                        "getpeername", "getsockname")),
    ("garbage collector", ("gc_collect",)),
    ("ticker fan-out (hub, outbox, flush)", ("ticker/hub/", "ticker/transports/fanout.py")),
    ("ticker WebSocket protocol + session", ("ticker/transports/websocket.py",
                                            "ticker/transports/wsproto.py",
                                            "ticker/session.py")),
    ("uvicorn HTTP protocol (upgrade parsing, per-connection setup)", ("uvicorn/protocols",
                                                                       "ticker/server.py")),
    ("HTTP publish path (starlette, auth, validation, newsroom)", ("starlette/", "ticker/web/",
                                                                    "ticker/newsroom",
                                                                    "ticker/auth", "jwt/")),
    ("Redis (redis-py, relay)", ("redis/", "ticker/relay.py", "ticker/brokers/")),
]


# a sample anywhere under these frames is theirs, whatever its leaf (a Redis read by the push and
# webhook reader is the reader's cost, not the fan-out's)
OWNERS: list[tuple[str, str]] = [
    ("reach: the push/webhook log reader", "ticker/reach/"),
]


def summarise(path: Path, top: int) -> None:
    leaf: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    buckets: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        if frames[-1].startswith(("epoll_pwait", "epoll_wait")):
            continue  # the loop waiting for work: idle
        total += n
        leaf[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n
        owner = next((name for name, key in OWNERS if any(key in f for f in frames)), None)
        if owner is not None:
            buckets[owner] += n
            continue
        for frame in reversed(frames):
            bucket = next((name for name, keys in BUCKETS if any(k in frame for k in keys)),
                          None)
            if bucket is not None:
                buckets[bucket] += n
                break
        else:
            buckets["other (event loop, Python runtime)"] += n
    print(f"{path.name}: {total} samples")
    print("\nbuckets (from the leaf up, first match):")
    for name, n in buckets.most_common():
        print(f"  {n / total:6.1%}  {name}")
    print(f"\ntop {top} leaf frames:")
    for frame, n in leaf.most_common(top):
        print(f"  {n / total:6.1%}  {frame[:140]}")
    print(f"\ntop {top} ticker frames, inclusive:")
    ours = [(f, n) for f, n in incl.most_common() if "ticker/" in f]
    for frame, n in ours[:top]:
        print(f"  {n / total:6.1%}  {frame[:140]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    summarise(args.profile, args.top)


if __name__ == "__main__":
    main()
