"""Reading a JSON request body within the size limit."""

from __future__ import annotations

from starlette.requests import Request

from ticker.errors import BodyTooLarge, UnsupportedMediaType


async def read_json_body(request: Request, limit: int) -> bytes:
    """The raw body of a JSON request: ``415`` if it is not JSON, ``413`` past ``limit``."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/")
                                            and media.endswith("+json")):
        raise UnsupportedMediaType("send the body as Content-Type: application/json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and (
            len(declared) > 18 or int(declared) > limit):
        raise BodyTooLarge(f"the body must be at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body must be at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
