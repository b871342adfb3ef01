"""``POST /api/v1/tokens/revoke``: its body and its answer."""

from __future__ import annotations

from typing import Annotated

import msgspec

Jti = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,12}-[0-9a-f]{24}$",
                                  description="A token id as ticker makes them: "
                                              "`<expiry in Unix seconds>-<24 hex digits>`")]


class RevokeBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Exactly one of ``token`` (the whole bearer token) or ``jti`` (its id)."""

    token: str | None = None
    jti: Jti | None = None


class Revoked(msgspec.Struct, frozen=True, kw_only=True):
    jti: str
    revoked: bool  # true: refused from now on (or expired already, which is as good)
    already: bool  # it was on the deny list before this request
    until: str  # RFC 3339: the token's expiry, when the entry leaves the deny list
