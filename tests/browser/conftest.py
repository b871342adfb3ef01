"""Fixtures for the browser tests: a real ``ticker serve`` per module and Debian's Chromium.

Each test module gets its own server process on a free port, with the embedded broker, a fresh
random secret and a publish rate high enough never to get in the way. Tests publish through the
public HTTP API with httpx and watch the pages in Chromium through Playwright.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.browser.ticker_browser import CHROMIUM, CHROMIUM_ARGS, TickerServer

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TickerServer]:
    srv = TickerServer(tmp_path_factory.mktemp("ticker"))
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


# Module scope, not session: while Playwright's sync API is running it owns the thread's event
# loop, and the asyncio tests that run after this directory must find none.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class PageErrors:
    """Uncaught page errors and Content-Security-Policy violations seen during a test."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error" and "Content Security Policy" in msg.text:
            self.messages.append(msg.text)

    def on_error(self, error: Exception) -> None:
        self.messages.append(str(error))


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def page(browser: Browser, page_errors: PageErrors) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-GB")
    pg = context.new_page()
    pg.on("console", page_errors.on_console)
    pg.on("pageerror", page_errors.on_error)
    try:
        yield pg
    finally:
        context.close()
    assert not page_errors.messages, page_errors.messages
