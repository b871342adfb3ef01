"""``POST /api/v1/tokens/revoke``: put a token on the deny list (editors only)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ticker import codec
from ticker.auth import jti_expiry
from ticker.errors import Conflict, Forbidden, InvalidInput, MalformedJSON
from ticker.model import FieldError
from ticker.model.tokens import RevokeBody, Revoked
from ticker.revocation import MAX_REVOKED
from ticker.runtime import Runtime
from ticker.stamp import rfc3339
from ticker.web.api import runtime_of
from ticker.web.body import read_json_body

JSON = "application/json"


def _decode(data: bytes) -> RevokeBody:
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise MalformedJSON(f"the body is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidInput([FieldError(path="$", message="must be a JSON object")])
    try:
        body = msgspec.convert(raw, RevokeBody)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `")
        path = where.rstrip("`") if where else "$"
        raise InvalidInput([FieldError(path=path, message=message)]) from None
    if (body.token is None) == (body.jti is None):
        raise InvalidInput([FieldError(path="$", message="give exactly one of token or jti")])
    return body


def _target(runtime: Runtime, body: RevokeBody) -> tuple[str, int]:
    """The ``(jti, exp)`` the body names, or ``422`` naming the field."""
    if body.token is not None:
        try:
            return runtime.verifier.identify(body.token)
        except ValueError as exc:
            raise InvalidInput([FieldError(path="$.token", message=str(exc))]) from None
    jti = body.jti or ""
    try:
        return jti, jti_expiry(jti)
    except ValueError as exc:
        raise InvalidInput([FieldError(path="$.jti", message=str(exc))]) from None


async def revoke_token(request: Request) -> Response:
    runtime = runtime_of(request)
    claims = runtime.verifier.verify(request.headers.get("authorization"))
    if claims.role != "editor":
        raise Forbidden("only an editor may revoke tokens")
    body = _decode(await read_json_body(request, runtime.settings.limits.body_max))
    jti, exp = _target(runtime, body)
    done = await runtime.deny_list.revoke(jti, exp)  # BrokerUnavailableError: 503
    if done.status == "full":
        raise Conflict(f"the deny list already holds {MAX_REVOKED} unexpired tokens; "
                       "rotate TICKER_SECRET instead")
    answer = Revoked(jti=jti, revoked=True, already=done.status == "already",
                     until=rfc3339(exp * 1000))
    return Response(codec.encode(answer), media_type=JSON)
