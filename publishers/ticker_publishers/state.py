"""The bridge's memory: which entries it posted as which items, and each source's validators.

One small JSON file, rewritten atomically (a temporary file in the same directory, fsync, then
``os.replace``, then fsync of the directory), so a crash leaves either the old or the new state,
never half of one. An entry is written down as ``pending`` *before* it is posted, with the exact
body and Idempotency-Key; if the bridge dies before it hears the answer, the next run posts the
same body under the same key and the server answers with the item it already made.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Literal

import msgspec

from ticker_publishers.wire import PublishBody

Status = Literal["pending", "posted", "rejected", "skipped", "retracted", "lost"]
"""``pending``: being posted. ``posted``: ``item`` is its ticker item. ``rejected``: the server
refused it (``note`` says why; tried again if the entry changes). ``skipped``: older than the
backfill when the source was first read; never posted. ``retracted``: retracted on ticker, no
longer corrected. ``lost``: its item is gone from the server; left alone."""

VERSION = 1


class EntryState(msgspec.Struct, kw_only=True, omit_defaults=True):
    key: str  # the Idempotency-Key of its publish
    feed: str  # the ticker feed
    status: Status
    body: PublishBody  # what was posted (or is being posted), as last corrected
    signature: str  # of the entry's title, link and updated date, when ``body`` was made
    seen: float  # unix time the entry was last in the source document
    item: str | None = None  # the ticker item id
    note: str | None = None  # why it was rejected, or what went wrong
    refused: str | None = None  # the signature of a correction the server refused


class SourceState(msgspec.Struct, kw_only=True, omit_defaults=True):
    etag: str | None = None
    last_modified: str | None = None
    entries: dict[str, EntryState] = {}


class State(msgspec.Struct, kw_only=True):
    version: int = VERSION
    sources: dict[str, SourceState] = {}


class StateError(Exception):
    """The state file exists but cannot be used; the bridge refuses to guess."""


_decoder = msgspec.json.Decoder(State)
_encoder = msgspec.json.Encoder()


def load(path: Path) -> State:
    """The state in ``path``; an empty one if there is no file yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return State()
    except OSError as exc:
        raise StateError(f"cannot read the state file {path}: {exc}") from None
    try:
        state = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise StateError(f"the state file {path} is damaged ({exc}); move it aside to start "
                         "afresh (entries seen in the last 24 h are still not posted twice: "
                         "the server remembers their keys)") from None
    if state.version != VERSION:
        raise StateError(f"the state file {path} has version {state.version}, not {VERSION}")
    return state


def save(path: Path, state: State) -> None:
    """Write ``state`` to ``path`` atomically."""
    data = msgspec.json.format(_encoder.encode(state), indent=1)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
