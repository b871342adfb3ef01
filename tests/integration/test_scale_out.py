"""Two server processes on one Redis: one order, and a reader can move between them."""

from __future__ import annotations

import uuid

from tests.integration.wsclient import Publisher, connect, recv_events, subscribe
from tests.servers import REDIS_URL, Server, delete_prefix, free_port, server_env


async def test_publish_on_one_node_receive_on_the_other_and_move_with_the_cursor() -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    env = server_env("redis", prefix=prefix)
    one, two = Server(free_port(), env).start(), Server(free_port(), env).start()
    try:
        pub = Publisher(one.url)
        async with await connect(one.ws_url) as on_one, await connect(two.ws_url) as on_two:
            await subscribe(on_one)
            await subscribe(on_two)
            published = [await pub.publish(f"item {n}") for n in range(10)]
            got_one = await recv_events(on_one, 10)
            got_two = await recv_events(on_two, 10)
            assert [e["cursor"] for e in got_one] == [e["cursor"] for e in got_two]
            assert [e["item"]["id"] for e in got_two] == [p["id"] for p in published]
            cursor = got_one[-1]["cursor"]
        # the reader leaves node one; items go on being published through node one
        missed = [await pub.publish(f"while moving {n}") for n in range(7)]
        async with await connect(two.ws_url) as moved:
            (subscribed,) = await subscribe(moved, since=cursor)
            assert subscribed["recovered"] is True
            events = await recv_events(moved, 7)
            assert [e["item"]["id"] for e in events] == [m["id"] for m in missed]
        await pub.aclose()
    finally:
        one.stop()
        two.stop()
        delete_prefix(REDIS_URL, prefix)
