"""Push payloads: RFC 8291 encryption read back by ``http_ece``, the Topic, and an item too
large for one record."""

from __future__ import annotations

import json
import os
import re

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec

from ticker.reach.push.crypto import PLAINTEXT_MAX, encrypt
from ticker.reach.push.fanout import fit
from ticker.reach.push.sender import topic


def test_encryption_is_read_by_an_independent_implementation() -> None:
    browser = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    for plain in (b"{}", "«عاجل»".encode() * 100, b"x" * PLAINTEXT_MAX):
        body = encrypt(plain, browser.public_key(), auth)
        assert len(body) <= 4096
        assert http_ece.decrypt(body, private_key=browser, auth_secret=auth,
                                version="aes128gcm") == plain


def test_topics_are_short_base64url_and_per_item() -> None:
    first, again, other = topic("en", "1a2b"), topic("en", "1a2b"), topic("ar", "1a2b")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", first)
    assert first == again != other


def test_an_oversized_item_is_trimmed_to_fit() -> None:
    item = {"id": "1", "feed": "en", "text": "é" * 2000, "url": "https://e.example/" + "p" * 2000}
    data = fit({"type": "item", "item": dict(item)})
    assert len(data) <= PLAINTEXT_MAX
    sent = json.loads(data)["item"]
    assert "url" not in sent and sent["text"].endswith("…") and sent["id"] == "1"
    small = {"type": "item", "item": {"id": "2", "text": "short", "url": "https://e.example"}}
    assert json.loads(fit(small)) == small
