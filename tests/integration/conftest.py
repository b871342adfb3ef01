"""Fixtures for the integration ring: real servers, real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import Server, running


@pytest.fixture(params=["memory", "redis"])
def broker(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def server(broker: str) -> Iterator[Server]:
    with running(broker) as srv:
        yield srv
