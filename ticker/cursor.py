"""Cursors: a position in one feed's log.

A cursor is ``epoch:seq``. ``seq`` is the contiguous per-feed sequence number the broker assigns
to every event (1, 2, 3, ...). ``epoch`` is a random id chosen when the feed's log is created. If
the log is lost (Redis restarted empty, the embedded broker restarted), the epoch changes, so a
client holding an old cursor is told ``recovered: false`` and gets a fresh snapshot instead of a
silent gap. Clients treat the string as opaque; ordering is by ``seq`` within one epoch.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_EPOCH = re.compile(r"[0-9a-z]{1,32}")  # used with fullmatch: "$" matches before a "\n"
_SEQ = re.compile(r"[0-9]{1,19}")  # ASCII digits: str.isdigit accepts "²"


class Cursor(NamedTuple):
    """A position in a feed's log: the epoch of the log and the sequence of an event in it."""

    epoch: str
    seq: int

    def __str__(self) -> str:
        return f"{self.epoch}:{self.seq}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """Parse ``epoch:seq``; raise ``ValueError`` with a reason on anything else."""
        epoch, sep, seq = text.partition(":")
        if not sep or not _EPOCH.fullmatch(epoch) or not _SEQ.fullmatch(seq):
            raise ValueError("not a cursor: expected the opaque string a server sent")
        return cls(epoch, int(seq))
