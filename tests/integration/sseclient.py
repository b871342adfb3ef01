"""A small SSE reader over httpx streaming, for tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.frame_schemas import check_server_frame


@dataclass
class SseEvent:
    event: str
    data: dict[str, Any]
    id: str | None


class SseReader:
    def __init__(self, lines: AsyncIterator[str], public: bool = False) -> None:
        """``public``: the feed's public event stream, whose every event is checked against the
        AsyncAPI document (the desk's stream is another, token-only stream)."""
        self._lines = lines
        self._public = public

    async def next(self, wait: float = 10.0) -> SseEvent:
        return await asyncio.wait_for(self._next(), wait)

    async def _next(self) -> SseEvent:
        event, data, ident = "message", "", None
        async for line in self._lines:
            if line == "":
                if data:
                    parsed = json.loads(data)
                    if self._public:
                        check_server_frame({"type": event, **parsed}, "sse")
                    return SseEvent(event, parsed, ident)
                event, data, ident = "message", "", None
            elif line.startswith(":") or line.startswith("retry:"):
                continue
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
            elif line.startswith("id: "):
                ident = line[4:]
        raise EOFError("the stream ended")

    async def events(self, count: int) -> list[SseEvent]:
        """The next ``count`` item/update/retract/pin events."""
        got: list[SseEvent] = []
        while len(got) < count:
            event = await self.next()
            if event.event in ("item", "update", "retract", "pin"):
                got.append(event)
        return got


@contextlib.asynccontextmanager
async def open_sse(base_url: str, feed: str = "en", headers: dict[str, str] | None = None,
                   **params: str) -> AsyncIterator[SseReader]:
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10, read=30)) as client:
        async with client.stream("GET", f"/api/v1/feeds/{feed}/events", params=params,
                                 headers=headers or {}) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            yield SseReader(response.aiter_lines(), public=True)
