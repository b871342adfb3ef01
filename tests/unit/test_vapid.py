"""The VAPID key: made once (a key file, or the broker's shared secret), and the JWT it signs."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt

from ticker.brokers.coordination import MemoryCoordination
from ticker.reach.push.crypto import b64url_decode
from ticker.reach.push.vapid import load_key


async def test_a_key_file_is_made_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "vapid.pem"
    first = await load_key(MemoryCoordination(), str(path), "mailto:ops@example.com")
    again = await load_key(MemoryCoordination(), str(path), "mailto:ops@example.com")
    assert first.public_key == again.public_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(b64url_decode(first.public_key)) == 65


async def test_the_broker_keeps_one_key_for_every_node() -> None:
    shared = MemoryCoordination()
    one = await load_key(shared, None, "mailto:ops@example.com")
    two = await load_key(shared, None, "mailto:ops@example.com")
    other = await load_key(MemoryCoordination(), None, "mailto:ops@example.com")
    assert one.public_key == two.public_key != other.public_key


async def test_the_jwt_names_the_push_service_and_is_reused() -> None:
    vapid = await load_key(MemoryCoordination(), None, "https://ops.example.com/contact")
    header = vapid.authorization("https://push.example", now=1_000_000.0)
    assert header == vapid.authorization("https://push.example", now=1_020_000.0)  # cached
    assert header != vapid.authorization("https://push.example", now=1_030_000.0)  # renewed
    token = header.split("t=", 1)[1].split(",", 1)[0]
    claims = jwt.decode(token, vapid.key.public_key(), algorithms=["ES256"],
                        audience="https://push.example", options={"verify_exp": False})
    assert claims == {"aud": "https://push.example", "exp": 1_000_000 + 12 * 3600,
                      "sub": "https://ops.example.com/contact"}
