from __future__ import annotations

from pathlib import Path

import pytest

from ticker.config import ConfigError, load_settings


def test_defaults_are_the_embedded_three_feeds() -> None:
    settings = load_settings({})
    assert settings.embedded and settings.broker_url == "memory://"
    assert [(f.id, f.direction) for f in settings.feeds] == [("en", "ltr"), ("ar", "rtl"),
                                                             ("es", "ltr")]
    assert settings.rate() == (120, 60.0) and settings.history == 1000


def test_environment_and_toml(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text('history = 50\n[[feeds]]\nid = "fr"\ntitle = "Flash"\nlang = "fr"\n'
                      "[limits]\ntext_max = 280\n")
    settings = load_settings({"TICKER_CONFIG": str(config), "REDIS_URL": "redis://h:1/0",
                              "TICKER_ALLOWED_ORIGINS": "https://a.example, https://b.example",
                              "TICKER_HISTORY": "70", "PORT": "9000"})
    assert [f.id for f in settings.feeds] == ["fr"] and settings.limits.text_max == 280
    assert settings.history == 70 and settings.port == 9000 and not settings.embedded
    assert settings.allowed_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize("env", [
    {"PORT": "eighty"}, {"PORT": "0"}, {"TICKER_HISTORY": "0"},
    {"TICKER_PUBLISH_RATE": "lots"}, {"REDIS_URL": "kafka://x"},
    {"TICKER_CONFIG": "/nonexistent.toml"},
])
def test_bad_settings_say_which_and_why(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=next(iter(env))):
        load_settings(env)


@pytest.mark.parametrize("url", ["ticker.example.com", "ftp://ticker.example.com",
                                 "https://ticker.example.com/?a=1", "https://", "https://a b"])
def test_a_public_url_must_be_an_absolute_http_url(url: str) -> None:
    with pytest.raises(ConfigError, match="TICKER_PUBLIC_URL"):
        load_settings({"TICKER_PUBLIC_URL": url})
    good = load_settings({"TICKER_PUBLIC_URL": "https://ticker.example.com/news"})
    assert good.public_url == "https://ticker.example.com/news"


def test_a_feed_id_with_a_final_newline_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text('[[feeds]]\nid = "en\\n"\ntitle = "Flash"\nlang = "en"\n')
    with pytest.raises(ConfigError, match="feeds"):
        load_settings({"TICKER_CONFIG": str(config)})


def test_item_retention_from_env_or_toml_and_never_below_history(tmp_path: Path) -> None:
    assert load_settings({}).item_retention == 10_000
    assert load_settings({"TICKER_ITEM_RETENTION": "0"}).item_retention == 0  # keep every item
    settings = load_settings({"TICKER_ITEM_RETENTION": "500", "TICKER_HISTORY": "2000"})
    assert settings.limits.item_retention == 500 and settings.item_retention == 2000
    config = tmp_path / "t.toml"
    config.write_text("[limits]\ntext_max = 280\nitem_retention = 5000\n")
    settings = load_settings({"TICKER_CONFIG": str(config)})
    assert settings.item_retention == 5000 and settings.limits.text_max == 280
    settings = load_settings({"TICKER_CONFIG": str(config), "TICKER_ITEM_RETENTION": "7000"})
    assert settings.item_retention == 7000 and settings.limits.text_max == 280
    for bad in ("-1", "many"):
        with pytest.raises(ConfigError, match="TICKER_ITEM_RETENTION"):
            load_settings({"TICKER_ITEM_RETENTION": bad})
