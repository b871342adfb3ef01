from __future__ import annotations

import jwt
import pytest

from ticker import auth
from ticker.errors import Forbidden, Unauthorized

SECRET = "s" * 40


def test_issue_and_verify() -> None:
    token = auth.issue(SECRET, sub="alice", role="correspondent", feeds=["en"], ttl=60)
    claims = auth.Verifier(SECRET).verify(f"Bearer {token}")
    assert (claims.sub, claims.role, claims.feeds) == ("alice", "correspondent", ["en"])
    auth.require_feed(claims, "en")
    with pytest.raises(Forbidden):
        auth.require_feed(claims, "ar")
    auth.require_item_access(claims, "alice")
    with pytest.raises(Forbidden):
        auth.require_item_access(claims, "bob")


def test_expired_tampered_and_algorithm_confused_tokens_are_refused() -> None:
    verifier = auth.Verifier(SECRET)
    expired = auth.issue(SECRET, sub="a", role="editor", feeds=["en"], ttl=1, now=1000)
    none_alg = jwt.encode({"sub": "a", "role": "editor", "feeds": ["en"], "exp": 2**40},
                          key="", algorithm="none")  # PyJWT reads "" as no key
    other_key = auth.issue("k" * 40, sub="a", role="editor", feeds=["en"], ttl=60)
    no_exp = jwt.encode({"sub": "a", "role": "editor", "feeds": ["en"]}, SECRET, "HS256")
    bad_role = jwt.encode({"sub": "a", "role": "god", "feeds": ["en"], "exp": 2**40}, SECRET,
                          "HS256")
    for header in (None, "", "Basic abc", "Bearer ", f"Bearer {expired}", f"Bearer {none_alg}",
                   f"Bearer {other_key}", f"Bearer {no_exp}", f"Bearer {bad_role}"):
        with pytest.raises(Unauthorized):
            verifier.verify(header)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        auth.Verifier("short")


@pytest.mark.parametrize(("text", "seconds"), [("30d", 2592000), ("12h", 43200), ("15m", 900),
                                               ("60s", 60)])
def test_ttl(text: str, seconds: int) -> None:
    assert auth.parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "0d", "5", "5w", "-1d"])
def test_bad_ttl(text: str) -> None:
    with pytest.raises(ValueError):
        auth.parse_ttl(text)
