"""Shutdown cannot hang: the listener keeps a cancel that lands as a message arrives, and each
lifespan step is bounded (tests/faults/test_node_faults.py saw a node that never exited)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ticker.brokers.redis import RedisBroker
from ticker.shutdown import close_step


class ControlledPubSub:
    """A pub/sub whose next message arrives when the test says so."""

    def __init__(self) -> None:
        self.arrival: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def get_message(self, timeout: float) -> dict[str, Any] | None:  # noqa: ASYNC109  # redis-py's signature
        return await self.arrival


async def test_a_cancel_that_lands_as_a_message_arrives_ends_the_listener() -> None:
    # With asyncio.wait_for on Python 3.11 the message was returned and the cancel lost: the
    # listener went on forever and the broker's aclose (and the process) never ended.
    broker = RedisBroker("redis://127.0.0.1:1/0")  # never connects: the pub/sub is ours
    pubsub = ControlledPubSub()
    waiting = asyncio.create_task(broker._next(pubsub, 1.0))  # type: ignore[arg-type]
    for _ in range(3):
        await asyncio.sleep(0)
    assert not waiting.done()
    pubsub.arrival.set_result({"type": "message", "channel": b"c", "data": b"d"})
    waiting.cancel()  # in the same step: both wake-ups are queued
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(waiting), 5.0)
    await broker.aclose()


async def test_a_step_that_never_ends_is_given_up_and_the_next_still_runs() -> None:
    closed: list[str] = []
    stalled = asyncio.Event()  # never set: a dependency that does not answer

    async def stall() -> None:
        await stalled.wait()

    async def close() -> None:
        closed.append("next")

    assert await close_step("stalled", stall, seconds=0.05) is False
    assert await close_step("next", close, seconds=5.0) is True
    assert closed == ["next"]


async def test_a_step_that_fails_is_logged_and_does_not_raise(
        caplog: pytest.LogCaptureFixture) -> None:
    async def fail() -> None:
        raise ConnectionError("gone")

    assert await close_step("broken", fail) is False
    assert "closing broken failed" in caplog.text
