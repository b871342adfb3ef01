"""Self-test of the load generator's WebSocket parser and its checks, against a scripted server.

The server sends every reader a byte stream with the awkward cases: 7-, 16- and 64-bit lengths,
a fragmented message with a ping between its fragments, a snapshot that must be ignored, a
duplicate, and (per reader) a missing item and two items swapped; with --deflate, compressed
messages (context takeover, one of them fragmented). The stream is written in random small
pieces, so frames span reads, and once more in one write, so reads hold several frames. The
load generator's report must count exactly what was scripted.

    python bench/selftest.py        # builds bench/build/loadgen if needed; exit 0 on success
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import random
import struct
import sys
import time
import zlib
from pathlib import Path

BENCH = Path(__file__).resolve().parent
LOADGEN = Path(os.environ.get("BENCH_LOADGEN", BENCH / "build" / "loadgen"))
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
READERS = 3
ITEMS = 10  # seqs 0..9


def frame(payload: bytes, opcode: int = 1, fin: bool = True, rsv1: bool = False) -> bytes:
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        return bytes((b0, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", b0, 126, n) + payload
    return struct.pack("!BBQ", b0, 127, n) + payload


def event(seq: int, pad: int = 0) -> bytes:
    item = {"id": f"x{seq}", "feed": "en", "text": f"bench:{seq}:{time.time_ns()}",
            "note": "p" * pad}
    return json.dumps({"type": "item", "cursor": f"c{seq}", "item": item}).encode()


class Compressor:
    def __init__(self) -> None:
        self.z = zlib.compressobj(wbits=-15)

    def __call__(self, data: bytes) -> bytes:
        out = self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]


def stream(reader: int, deflate: bool) -> bytes:
    """Every frame one reader gets, in order."""
    comp = Compressor() if deflate else None

    def msg(payload: bytes) -> bytes:
        if comp is None:
            return frame(payload)
        return frame(comp(payload), rsv1=True)

    out = []
    snap = {"type": "snapshot", "feed": "en", "cursor": "c", "items": [
        {"text": f"bench:5:{time.time_ns()}"}]}
    out.append(msg(json.dumps(snap).encode()))  # repeats item 5: must be ignored
    order = list(range(ITEMS))
    if reader == 1:
        order[8], order[9] = order[9], order[8]  # out of order on reader 1
    for seq in order:
        if seq == 7 and reader == 0:
            continue  # lost on reader 0
        if seq == 1:
            out.append(msg(event(seq, pad=1000)))  # 16-bit length
        elif seq == 2:
            out.append(msg(event(seq, pad=70000)))  # 64-bit length
        elif seq == 3:
            data = event(seq, pad=300)
            if comp is not None:
                data = comp(data)
            half = len(data) // 2
            out.append(frame(data[:half], opcode=1, fin=False, rsv1=comp is not None))
            out.append(frame(b"hi", opcode=9))  # a ping between fragments
            out.append(frame(data[half:], opcode=0, fin=True))
        elif seq == 6:
            out.append(msg(event(seq)))
            out.append(msg(event(seq)))  # duplicate on every reader
        else:
            out.append(msg(event(seq)))
    out.append(frame(b'{"type":"ping"}'))
    return b"".join(out)


def count_pongs(data: bytes) -> int:
    """Client frames are small and masked: count the pongs among them."""
    i = pongs = 0
    while i + 6 <= len(data):
        op, n = data[i] & 0x0F, data[i + 1] & 0x7F
        if n >= 126:
            raise AssertionError("unexpected large client frame")
        pongs += op == 0x0A
        i += 6 + n
    return pongs


async def serve(port_box: list[int], deflate: bool, chunked: bool, done: asyncio.Event,
                pongs: list[int], listening: asyncio.Event, finish: asyncio.Event) -> None:
    count = 0
    writers: list[asyncio.StreamWriter] = []

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal count
        head = (await r.readuntil(b"\r\n\r\n")).decode()
        key = next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
                   if line.lower().startswith("sec-websocket-key:"))
        offered = "permessage-deflate" in head.lower()
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate and offered else ""
        w.write(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{ext}\r\n".encode()
                # the first frame in the same write as the 101: bytes left over by the handshake
                + frame(b'{"type":"subscribed","feed":"en","recovered":false}'))
        await w.drain()
        writers.append(w)
        count += 1
        if count == READERS:
            done.set()
        received = b""
        with contextlib.suppress(OSError):
            while chunk := await r.read(4096):
                received += chunk
        pongs.append(count_pongs(received))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port_box.append(server.sockets[0].getsockname()[1])
    listening.set()
    async with server:
        await done.wait()
        await asyncio.sleep(0.2)  # the load generator is told the phase first
        await asyncio.sleep(0.3)
        rng = random.Random(7)
        # readers 0 and 2 first, then reader 1 (whose 9 comes before 8): the feed's order is
        # set by the first arrivals, so reader 1 is the one out of order
        for index in (0, 2, 1):
            data = stream(index, deflate)
            w = writers[index]
            if not chunked:
                w.write(data)
            else:
                i = 0
                while i < len(data):
                    n = rng.randint(1, 300)
                    w.write(data[i:i + n])
                    await w.drain()
                    i += n
                    if rng.random() < 0.3:
                        await asyncio.sleep(0.001)
            await w.drain()
            await asyncio.sleep(0.1)
        await finish.wait()
        for w in writers:
            w.close()


async def one(deflate: bool, chunked: bool) -> bool:
    done = asyncio.Event()
    port_box: list[int] = []
    pongs: list[int] = []
    listening, finish = asyncio.Event(), asyncio.Event()
    srv = asyncio.create_task(serve(port_box, deflate, chunked, done, pongs, listening, finish))
    await listening.wait()
    args = ["--port", str(port_box[0]), "--n", str(READERS), "--ready", "ack",
            "--idle-ms", "800", "--max-drain-ms", "5000"]
    if deflate:
        args.append("--deflate")
    proc = await asyncio.create_subprocess_exec(str(LOADGEN), *args, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    events: list[dict[str, object]] = []

    async def read_until(kind: str) -> dict[str, object]:
        assert proc.stdout is not None
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), 10)
            if not line:
                raise RuntimeError("loadgen exited")
            ev: dict[str, object] = json.loads(line)
            events.append(ev)
            if ev.get("event") == kind:
                return ev

    ready = await read_until("ready")
    proc.stdin.write(f"phase selftest 0 {ITEMS - 1}\n".encode())
    await proc.stdin.drain()
    await done.wait()
    await asyncio.sleep(1.5)
    proc.stdin.write(b"end\n")
    await proc.stdin.drain()
    phase = await read_until("phase")
    finish.set()
    proc.stdin.write(b"quit\n")
    await proc.stdin.drain()
    bye = await read_until("bye")
    await proc.wait()
    await srv
    expect = {"deliveries": READERS * ITEMS - 1, "lost": 1, "dup": READERS, "out_of_order": 1,
              "stray": 0, "closed_during": 0}
    got = {k: phase[k] for k in expect}
    ok = got == expect and ready["ready"] == READERS
    # per item: every delivery counted once, and the last reader never before the first
    ttl, ttfr, per_item = phase["items_ttl_ms"], phase["items_ttfr_ms"], phase["items_got"]
    assert isinstance(ttl, list) and isinstance(ttfr, list) and isinstance(per_item, list)
    ok = ok and len(ttl) == ITEMS and sum(per_item) == expect["deliveries"]
    ok = ok and sorted(per_item)[0] == READERS - 1 and all(t >= f for t, f in zip(ttl, ttfr,
                                                                                   strict=True))
    if deflate:
        ok = ok and ready["deflate"] == READERS
    warns = [e for e in events if e.get("event") == "warn"]
    ok = ok and not warns and pongs == [1] * READERS
    mode = f"{'deflate' if deflate else 'plain'}, {'small pieces' if chunked else 'one write'}"
    print(f"{'ok  ' if ok else 'FAIL'} {mode}: {got}"
          + ("" if ok else f"\n     expected {expect}; ready {ready}; warnings {warns}"))
    print(f"     frames {bye['frames']}, reads {bye['reads']}, pongs seen by the server {pongs}")
    return ok


async def main() -> int:
    modes = [(deflate, chunked) for deflate in (False, True) for chunked in (True, False)]
    results = [await one(deflate, chunked) for deflate, chunked in modes]
    print("passed" if all(results) else "FAILED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    if not LOADGEN.exists():
        print("build the load generator first: cc -O2 -o bench/build/loadgen bench/loadgen.c -lz")
        sys.exit(2)
    sys.exit(asyncio.run(main()))
