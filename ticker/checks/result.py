"""What one check says: a status, what it found, and what to do about it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ticker.config import Settings


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Result:
    """One line of ``ticker check``: ``name`` names the setting or fact, ``message`` what was
    found and what it means, ``action`` what to do (empty when there is nothing to do)."""

    name: str
    status: Status
    message: str
    action: str = ""

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status.value, "message": self.message,
                "action": self.action}


DEFAULT_READERS = 1000  # what the host checks assume when --readers is not given


@dataclass(frozen=True)
class Context:
    """Everything a check may look at: the settings ``ticker serve`` would use, what the
    operator expects (readers per process, processes sharing the broker), and the clock (a
    test injects an offset through ``now``)."""

    settings: Settings
    readers: int = DEFAULT_READERS
    readers_given: bool = False
    nodes: int = 1
    now: Callable[[], float] = time.time
    timeout: float = 2.0
    proc: str = "/proc"  # where the kernel's settings are read (a test points it elsewhere)


def ok(name: str, message: str) -> Result:
    return Result(name, Status.OK, message)


def warn(name: str, message: str, action: str) -> Result:
    return Result(name, Status.WARN, message, action)


def fail(name: str, message: str, action: str) -> Result:
    return Result(name, Status.FAIL, message, action)
