"""``ticker-bridge`` fetches sources through the guarded client: a redirect to an address that
is not allowed is refused, a trickling source is cut at the overall deadline, and the pass goes
on with the other sources."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.integration.publishers_helpers import FeedServer
from tests.integration.reach_helpers import Receiver, Request, trickler
from tests.servers import Server, token
from ticker_publishers import bridge as bridge_mod

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<item><guid>a1</guid><title>Guarded fetch works</title></item></channel></rss>"""


@pytest.mark.parametrize("broker", ["memory"])
def test_refused_and_trickling_sources_fail_alone(server: Server, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("TICKER_TOKEN", token("wire", "correspondent", "en"))
    caplog.set_level(logging.WARNING, logger="ticker_publishers.bridge")
    feeds = FeedServer()
    feeds.put("/wire.rss", RSS)
    with feeds.running() as base, trickler() as slow:
        def away(request: Request) -> tuple[int, dict[str, str]]:
            return 302, {"location": f"http://127.0.0.2:{slow}/internal.rss"}

        with Receiver(away) as redirecting:
            config = tmp_path / "bridge.toml"
            config.write_text(f"""
server = "{server.url}"
feed = "en"
state = "state.json"
timeout = 1.5
retries = 1
allow_networks = ["127.0.0.1/32"]

[[sources]]
url = "http://127.0.0.1:{slow}/slow.rss"

[[sources]]
url = "{redirecting.origin}/moved.rss"

[[sources]]
url = "{base}/wire.rss"
""")
            code = bridge_mod.main(["--config", str(config), "--once"])
    assert code == bridge_mod.PARTLY
    failures = "\n".join(r.getMessage() for r in caplog.records)
    assert f"127.0.0.1:{slow}/slow.rss: refused: the overall deadline passed" in failures
    assert "moved.rss: refused: 127.0.0.2 is not a public address" in failures
    latest = httpx.get(f"{server.url}/api/v1/feeds/en/items").json()["items"]
    assert [i["text"] for i in latest] == ["Guarded fetch works"]
