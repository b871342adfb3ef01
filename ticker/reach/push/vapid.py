"""VAPID (RFC 8292): the application server's P-256 key, made once and shared, and the signed
JWT each push carries (``Authorization: vapid t=<JWT>, k=<public key>``).

The key is the same on every node and across restarts: on Redis it is a shared secret in the
broker (the first node to start makes it, ``SET NX``); embedded, it is kept in
``TICKER_PUSH_KEY_FILE`` (made with mode 0600 on first start) or, without that setting, lives as
long as the process — as do the embedded engine's subscriptions. A configured key file wins on
every engine (then every node must have the same file).

JWTs (ES256 through PyJWT and ``cryptography``) are cached per audience (the push service's
origin) and renewed after half their 12-hour life.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ticker.brokers.coordination import Coordination
from ticker.reach.push.crypto import b64url

JWT_LIFETIME = 12 * 3600
SECRET_NAME = "vapid-key"


def new_key_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _from_pem(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the VAPID key must be a P-256 private key")
    return key


def _key_file(path: Path) -> bytes:
    """The PEM in ``path``, made (atomically, mode 0600) if the file does not exist yet."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = new_key_pem()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return pem


async def load_key(coordination: Coordination, key_file: str | None, subject: str) -> Vapid:
    pem = (_key_file(Path(key_file)) if key_file
           else await coordination.shared_secret(SECRET_NAME, new_key_pem))
    return Vapid(_from_pem(pem), subject)


class Vapid:
    def __init__(self, key: ec.EllipticCurvePrivateKey, subject: str) -> None:
        self.key = key
        self.subject = subject
        raw = key.public_key().public_bytes(serialization.Encoding.X962,
                                            serialization.PublicFormat.UncompressedPoint)
        self.public_key = b64url(raw)
        self._cache: dict[str, tuple[str, float]] = {}  # audience → header, renew after

    def authorization(self, audience: str, now: float | None = None) -> str:
        """The ``Authorization`` header for a push service at ``audience`` (its origin)."""
        now = time.time() if now is None else now
        cached = self._cache.get(audience)
        if cached is not None and cached[1] > now:
            return cached[0]
        claims = {"aud": audience, "exp": int(now) + JWT_LIFETIME, "sub": self.subject}
        token = jwt.encode(claims, self.key, algorithm="ES256")
        header = f"vapid t={token}, k={self.public_key}"
        self._cache[audience] = (header, now + JWT_LIFETIME / 2)
        return header
