"""Push, webhook and outbound settings: every bad value is refused at start-up, naming it."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ticker.config import ConfigError, load_settings

SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()


def hooks(tmp_path: Path, body: str) -> dict[str, str]:
    path = tmp_path / "ticker.toml"
    path.write_text(body)
    return {"TICKER_CONFIG": str(path)}


def test_defaults_and_environment() -> None:
    settings = load_settings({})
    assert "https://fcm.googleapis.com" in settings.push_services
    assert settings.webhooks == [] and settings.outbound_allow == []
    settings = load_settings({"TICKER_PUSH_SERVICES": "http://127.0.0.1:9000, https://*.p.example",
                              "TICKER_OUTBOUND_ALLOW": "127.0.0.1,10.0.0.0/8"})
    assert settings.push_services == ["http://127.0.0.1:9000", "https://*.p.example"]
    assert settings.outbound_allow == ["127.0.0.1", "10.0.0.0/8"]


@pytest.mark.parametrize(("env", "message"), [
    ({"TICKER_PUSH_SERVICES": "push.example"}, "TICKER_PUSH_SERVICES"),
    ({"TICKER_PUSH_SERVICES": "https://push.example/path"}, "has a path"),
    ({"TICKER_OUTBOUND_ALLOW": "10.0.0.0/33"}, "TICKER_OUTBOUND_ALLOW"),
    ({"TICKER_PUSH_CONTACT": "ops@example.com"}, "TICKER_PUSH_CONTACT"),
])
def test_bad_push_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


@pytest.mark.parametrize(("hook", "message"), [
    (f'url = "ftp://x.example/h"\nsecret = "{SECRET}"\nfeeds = ["en"]', r"webhooks\[1\]\.url"),
    ('url = "https://x.example/h"\nsecret = "abc"\nfeeds = ["en"]', "must start with 'whsec_'"),
    ('url = "https://x.example/h"\nsecret = "whsec_!!"\nfeeds = ["en"]', "base64"),
    ('url = "https://x.example/h"\nsecret = "whsec_YWJj"\nfeeds = ["en"]', "at least 16 bytes"),
    (f'url = "https://x.example/h"\nsecret = "{SECRET}"\nfeeds = ["xx"]', "'xx' is not a"),
    (f'url = "https://x.example/h"\nsecret = "{SECRET}"\nfeeds = []', "at least one feed"),
    (f'url = "https://x.example/h"\nsecret = "{SECRET}"\nfeeds = ["en"]\nevents = ["It"]',
     "not an event type"),
    (f'url = "https://x.example/h"\nsecret = "{SECRET}"\nfeeds = ["en"]\nname = "a b"',
     r"webhooks\[1\]\.name"),
    (f'url = "https://x.example/h"\nsecret = "{SECRET}"\nfeeds = ["en"]\ncolour = 1',
     "colour"),
])
def test_bad_webhooks_are_refused(tmp_path: Path, hook: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(hooks(tmp_path, f"[[webhooks]]\n{hook}\n"))


def test_two_endpoints_on_one_host_need_names(tmp_path: Path) -> None:
    one = f'url = "https://x.example/a"\nsecret = "{SECRET}"\nfeeds = ["en"]\n'
    two = f'url = "https://x.example/b"\nsecret = "{SECRET}"\nfeeds = ["en"]\n'
    with pytest.raises(ConfigError, match="used twice"):
        load_settings(hooks(tmp_path, f"[[webhooks]]\n{one}[[webhooks]]\n{two}"))
    settings = load_settings(hooks(tmp_path, f'[[webhooks]]\n{one}[[webhooks]]\n{two}name = "b"\n'))
    assert [h.name for h in settings.webhooks] == [None, "b"]
