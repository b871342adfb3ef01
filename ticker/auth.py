"""Bearer tokens: PyJWT, HS256 only, with ``sub``, ``role``, ``feeds`` and ``exp`` claims.

The algorithm is pinned on verification (no ``none``, no algorithm confusion), expiry is
required, and the secret must be long enough to resist brute force. Tokens and secrets are
never logged.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Literal

import jwt
import msgspec

from ticker.errors import Forbidden, Unauthorized

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
Role = Literal["correspondent", "editor"]
_TTL = re.compile(r"([0-9]+)([smhd])")  # used with fullmatch
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Claims(msgspec.Struct, frozen=True, kw_only=True):
    sub: str
    role: Role
    feeds: list[str]
    exp: int
    iat: int | None = None

    def may_write(self, feed: str) -> bool:
        return feed in self.feeds or "*" in self.feeds


def check_secret(secret: str) -> None:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(
            f"TICKER_SECRET must be at least {MIN_SECRET_BYTES} bytes "
            "(try: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )


def generate_secret() -> str:
    return secrets.token_urlsafe(48)


def parse_ttl(text: str) -> int:
    """``30d`` → seconds; a number with ``s``, ``m``, ``h`` or ``d``."""
    match = _TTL.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"--ttl {text!r}: expected a number with s, m, h or d (e.g. 30d)")
    return int(match.group(1)) * _TTL_UNITS[match.group(2)]


def issue(secret: str, *, sub: str, role: Role, feeds: list[str], ttl: int,
          now: float | None = None) -> str:
    check_secret(secret)
    issued = int(time.time() if now is None else now)
    payload = {"sub": sub, "role": role, "feeds": feeds, "iat": issued, "exp": issued + ttl}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


class Verifier:
    """Checks bearer tokens against one secret."""

    def __init__(self, secret: str) -> None:
        check_secret(secret)
        self._secret = secret  # the signing key; never logged

    def verify(self, authorization: str | None) -> Claims:
        """Return the claims of a valid ``Authorization: Bearer`` header, or raise 401."""
        if not authorization:
            raise Unauthorized("missing Authorization: Bearer <token> header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        try:
            payload = jwt.decode(
                token.strip(), self._secret, algorithms=[ALGORITHM],
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("the token is not valid") from None
        try:
            return msgspec.convert(payload, Claims)
        except msgspec.ValidationError as exc:
            raise Unauthorized(f"the token's claims are not valid: {exc}") from None


def require_feed(claims: Claims, feed: str) -> None:
    if not claims.may_write(feed):
        raise Forbidden(f"this token may not write to feed {feed!r}")


def require_item_access(claims: Claims, author: str) -> None:
    """Correspondents touch only their own items; editors touch any item in their feeds."""
    if claims.role != "editor" and claims.sub != author:
        raise Forbidden("a correspondent may only change their own items")
