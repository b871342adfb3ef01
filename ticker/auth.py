"""Bearer tokens: PyJWT, HS256 only, with ``sub``, ``role``, ``feeds``, ``exp`` and ``jti`` claims.

The algorithm is pinned on verification (no ``none``, no algorithm confusion), expiry is
required, and the secret must be long enough to resist brute force. Tokens and secrets are
never logged.

Every token made by ``issue`` carries a ``jti``: ``<exp>-<24 hex digits>`` (its expiry in Unix
seconds, then 96 random bits), so a revocation by ``jti`` alone knows how long the deny list must
keep it (until the token's own expiry, see ``ticker.revocation``). Tokens without a ``jti`` (made
before revocation existed) are still accepted but cannot be revoked; rotate ``TICKER_SECRET`` to
end them.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import Literal

import jwt
import msgspec

from ticker.errors import Forbidden, Unauthorized

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
Role = Literal["correspondent", "editor", "contributor"]
ROLES: tuple[Role, ...] = ("correspondent", "editor", "contributor")
"""``contributor``: its items wait for an editor's approval (``submitted``); it may change or
withdraw them only while they wait."""
_TTL = re.compile(r"([0-9]+)([smhd])")  # used with fullmatch
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_JTI = re.compile(r"^([0-9]{1,12})-[0-9a-f]{24}$")
LATEST_EXP = 253402300799  # 9999-12-31T23:59:59Z: no token of ours expires later


class Claims(msgspec.Struct, frozen=True, kw_only=True):
    sub: str
    role: Role
    feeds: list[str]
    exp: int
    iat: int | None = None
    jti: str | None = None

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
    expiry = issued + ttl
    payload = {"sub": sub, "role": role, "feeds": feeds, "iat": issued, "exp": expiry,
               "jti": new_jti(expiry)}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def new_jti(exp: int) -> str:
    """A fresh token id that names the token's expiry: ``<exp>-<24 hex digits>``."""
    return f"{exp}-{secrets.token_hex(12)}"


def jti_expiry(jti: str) -> int:
    """The expiry (Unix seconds) a ``jti`` made by ``new_jti`` names; ``ValueError`` otherwise."""
    match = _JTI.match(jti)
    if match is None:
        raise ValueError("not a token id made by ticker (expected <expiry>-<24 hex digits>)")
    if int(match.group(1)) > LATEST_EXP:
        raise ValueError("the expiry this token id names is later than any token's")
    return int(match.group(1))


class Verifier:
    """Checks bearer tokens against one secret."""

    def __init__(self, secret: str, revoked: Callable[[str], bool] | None = None) -> None:
        check_secret(secret)
        self._secret = secret  # the signing key; never logged
        self._revoked = revoked  # is this jti on the deny list? (a local look-up, no I/O)

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
            claims = msgspec.convert(payload, Claims)
        except msgspec.ValidationError as exc:
            raise Unauthorized(f"the token's claims are not valid: {exc}") from None
        if claims.jti is not None and self._revoked is not None and self._revoked(claims.jti):
            raise Unauthorized("the token has been revoked")
        return claims

    def identify(self, token: str) -> tuple[str, int]:
        """``(jti, exp)`` of a token signed with this secret, expired or not; ``ValueError``
        for anything else (not a JWT, another key, no ``jti``)."""
        try:
            payload = jwt.decode(token.strip(), self._secret, algorithms=[ALGORITHM],
                                 options={"require": ["exp"], "verify_exp": False})
        except jwt.PyJWTError:
            raise ValueError("not a token signed by this service") from None
        jti, exp = payload.get("jti"), payload.get("exp")
        if not isinstance(jti, str) or not isinstance(exp, int):
            raise ValueError("the token has no jti claim: tokens made before revocation "
                             "existed cannot be revoked (rotate TICKER_SECRET to end them)")
        return jti, min(exp, LATEST_EXP)


def require_feed(claims: Claims, feed: str) -> None:
    if not claims.may_write(feed):
        raise Forbidden(f"this token may not write to feed {feed!r}")


def require_item_access(claims: Claims, author: str) -> None:
    """Correspondents and contributors touch only their own items; editors touch any item in
    their feeds."""
    if claims.role != "editor" and claims.sub != author:
        raise Forbidden(f"a {claims.role} may only change their own items")


def require_editor(claims: Claims, action: str) -> None:
    """Hold, release, pin and unpin are the editors' (an editor of the feed)."""
    if claims.role != "editor":
        raise Forbidden(f"only an editor may {action}")
