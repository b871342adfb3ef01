"""The guarded outbound clients against local servers on loopback: every refusal the rules
promise, the overall deadline against a trickling peer, and bounded concurrency.

Names are pointed at addresses with the resolver hook the guard exposes (the machine has no DNS
to play tricks with); that the socket goes to the checked address, not to a second lookup, shows
in the hook's name reaching the local server at all.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.integration.reach_helpers import Receiver, Request, trickler
from ticker.outbound.client import Outbound
from ticker.outbound.network import deadline
from ticker.outbound.rules import AddressRules, OriginList, Refused
from ticker.outbound.sync import guarded_client

WAIT = 20.0  # upper bound on any wait here; never an expected duration


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(f"{host}: unknown in this test")
        return table[host]
    return resolve


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


async def post(client: Outbound, url: str, origins: list[str]) -> int:
    async with asyncio.timeout(WAIT):
        answer = await client.post(url, OriginList(origins), b"{}", {"x-test": "1"})
    return answer.status


async def refusal(client: Outbound, url: str, origins: list[str]) -> str:
    with pytest.raises(Refused) as info:
        await post(client, url, origins)
    return info.value.reason


async def test_allowed_origin_and_address_are_reached(receiver: Receiver) -> None:
    client = Outbound(AddressRules(["127.0.0.1"]))
    try:
        assert await post(client, f"{receiver.origin}/a", [receiver.origin]) == 201
        assert [r.path for r in receiver.taken()] == ["/a"]
    finally:
        await client.aclose()


async def test_origins_and_private_addresses_are_refused(receiver: Receiver) -> None:
    client = Outbound(AddressRules())
    listed = Outbound(AddressRules(["127.0.0.1"]))
    try:
        assert await refusal(listed, f"{receiver.origin}/x", ["https://push.example"]) == "origin"
        assert await refusal(listed, f"{receiver.origin}/x".replace("http:", "https:"),
                             [receiver.origin]) == "origin"
        assert await refusal(client, f"{receiver.origin}/x", [receiver.origin]) == "address"
        assert await refusal(client, f"http://[::1]:{receiver.port}/x",
                             [f"http://[::1]:{receiver.port}"]) == "address"
        assert await refusal(listed, "file:///etc/passwd", [receiver.origin]) == "scheme"
        assert receiver.taken() == []
    finally:
        await client.aclose()
        await listed.aclose()


async def test_names_resolving_to_private_addresses_are_refused(receiver: Receiver) -> None:
    names = {"push.test": ["127.0.0.1"], "mixed.test": ["93.184.216.34", "10.0.0.7"]}
    strict = Outbound(AddressRules(), resolver=resolver(names))
    listed = Outbound(AddressRules(["127.0.0.1"]), resolver=resolver(names))
    try:
        url = f"http://push.test:{receiver.port}/dns"
        origins = [f"http://push.test:{receiver.port}", f"http://mixed.test:{receiver.port}"]
        assert await refusal(strict, url, origins) == "address"
        assert await refusal(strict, url.replace("push", "mixed"), origins) == "address"
        assert await refusal(listed, url.replace("push", "mixed"), origins) == "address"
        assert await refusal(listed, url.replace("push", "nowhere"),
                             [f"http://nowhere.test:{receiver.port}"]) == "unresolvable"
        with pytest.raises(Refused):
            await strict.vet(url, OriginList(origins))
        assert receiver.taken() == []
        # listed: the name reaches the local server, through the address the hook gave
        assert await post(listed, url, origins) == 201
        assert receiver.taken()[0].headers["host"] == f"push.test:{receiver.port}"
    finally:
        await strict.aclose()
        await listed.aclose()


async def test_redirects_are_answers_never_followed() -> None:
    with Receiver() as target:
        def redirect(request: Request) -> tuple[int, dict[str, str]]:
            return 307, {"location": f"{target.origin}/stolen"}

        with Receiver(redirect) as service:
            client = Outbound(AddressRules(["127.0.0.1"]))
            try:
                status = await post(client, f"{service.origin}/r",
                                    [service.origin, target.origin])
            finally:
                await client.aclose()
            assert status == 307
            assert target.taken() == []


async def test_one_deadline_covers_a_trickling_answer() -> None:
    with trickler() as port:
        client = Outbound(AddressRules(["127.0.0.1"]), deadline=1.0)
        try:
            assert await refusal(client, f"http://127.0.0.1:{port}/slow",
                                 [f"http://127.0.0.1:{port}"]) == "deadline"
        finally:
            await client.aclose()


async def test_concurrency_is_bounded() -> None:
    lock = threading.Lock()
    release = threading.Event()
    now = peak = 0

    def hold(request: Request) -> tuple[int, dict[str, str]]:
        nonlocal now, peak
        with lock:
            now += 1
            peak = max(peak, now)
        release.wait(WAIT)
        with lock:
            now -= 1
        return 200, {}

    with Receiver(hold) as service:
        client = Outbound(AddressRules(["127.0.0.1"]), concurrency=3)
        try:
            posts = [asyncio.create_task(post(client, f"{service.origin}/{n}", [service.origin]))
                     for n in range(12)]
            await asyncio.to_thread(service.wait_for, lambda seen: len(seen) >= 3)
            await asyncio.sleep(0.2)  # room for any 4th request to show up (it must not)
            assert len(service.taken()) == 3
            release.set()
            assert await asyncio.gather(*posts) == [200] * 12
            assert peak == 3
        finally:
            release.set()
            await client.aclose()


def test_the_blocking_client_refuses_private_hops_and_enforces_the_deadline() -> None:
    with Receiver() as inside:
        def away(request: Request) -> tuple[int, dict[str, str]]:
            return 301, {"location": f"http://127.0.0.2:{inside.port}/internal"}

        def along(request: Request) -> tuple[int, dict[str, str]]:
            return 301, {"location": f"{inside.origin}/moved"}

        with Receiver(away) as redirecting, Receiver(along) as moving, trickler() as slow:
            rules = AddressRules(["127.0.0.1/32"])
            with guarded_client(rules, timeout=5, headers={}) as http:
                assert http.get(f"{moving.origin}/feed").status_code == 201  # followed
                assert [r.path for r in inside.taken()] == ["/moved"]
                with pytest.raises(Refused) as info:
                    http.get(f"{redirecting.origin}/feed")
                assert info.value.reason == "address"
                with pytest.raises(Refused) as info:
                    http.get(f"http://10.0.0.1:{inside.port}/x")
                assert info.value.reason == "address"
                with deadline(1.0), pytest.raises(Refused) as info:
                    with http.stream("GET", f"http://127.0.0.1:{slow}/feed") as response:
                        for _ in response.iter_bytes():
                            pass
                assert info.value.reason == "deadline"
            assert [r.path for r in inside.taken()] == ["/moved"]
