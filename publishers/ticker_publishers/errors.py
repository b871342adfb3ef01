"""Typed errors, built from the server's RFC 9457 problem details.

::

    TickerError                  any failure; .status (0 when no HTTP answer), .problem, .errors
    ├── InvalidInput             400, 413, 415, 422: the request was refused; .errors has the paths
    ├── Unauthorized             401: missing, bad or expired token
    ├── Forbidden                403: the token may not write to that feed or item
    ├── NotFound                 404: unknown feed or item
    ├── Conflict                 409: the item was retracted (or is changing under us)
    ├── RateLimited              429 after the retries: .retry_after seconds
    └── Unavailable              503/502/504 or no connection, after the retries: .retry_after

``InvalidInput``, ``Unauthorized``, ``Forbidden``, ``NotFound`` and ``Conflict`` are never retried:
asking again would get the same answer.
"""

from __future__ import annotations

import msgspec

from ticker_publishers.wire import FieldError, Problem

_problem_decoder = msgspec.json.Decoder(Problem)


class TickerError(Exception):
    """A request to ticker failed. ``problem`` is the server's problem details, when it sent one."""

    status: int
    problem: Problem | None

    def __init__(self, message: str, *, status: int = 0, problem: Problem | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem

    @property
    def errors(self) -> list[FieldError]:
        """Every failing field by path (``$.urgency``, ``$.regions[1]``, ``header.…``)."""
        return list(self.problem.errors) if self.problem is not None else []

    @property
    def title(self) -> str:
        return self.problem.title if self.problem is not None else str(self)

    @property
    def detail(self) -> str | None:
        return self.problem.detail if self.problem is not None else None


class InvalidInput(TickerError):
    """The server refused the request as sent (``400``, ``413``, ``415``, ``422``)."""


class Unauthorized(TickerError):
    """``401``: the token is missing, malformed, wrongly signed or expired."""


class Forbidden(TickerError):
    """``403``: the token may not write to this feed, or change this item."""


class NotFound(TickerError):
    """``404``: no such feed or item."""


class Conflict(TickerError):
    """``409``: the item was retracted and can no longer be changed."""


class RateLimited(TickerError):
    """``429`` and the retries are used up (or ``Retry-After`` is longer than the policy waits)."""

    def __init__(self, message: str, *, status: int = 429, problem: Problem | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, status=status, problem=problem)
        self.retry_after = retry_after


class Unavailable(TickerError):
    """The server could not be reached or answered ``502``/``503``/``504``, after the retries.

    ``status`` is 0 when there was no HTTP answer at all (connection refused, reset, timed out).
    """

    def __init__(self, message: str, *, status: int = 0, problem: Problem | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, status=status, problem=problem)
        self.retry_after = retry_after


_BY_STATUS: dict[int, type[TickerError]] = {
    400: InvalidInput, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    413: InvalidInput, 415: InvalidInput, 422: InvalidInput,
}


def parse_problem(content_type: str, body: bytes) -> Problem | None:
    """The problem details in a response body, or ``None`` if it holds none."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not media.endswith("json"):
        return None
    try:
        return _problem_decoder.decode(body)
    except msgspec.DecodeError:
        return None


def describe(status: int, problem: Problem | None, body: bytes) -> str:
    """One line: ``422 One or more fields are invalid: $.urgency: must be …``."""
    if problem is None:
        snippet = body[:200].decode("utf-8", "replace").strip()
        return f"{status} {snippet}" if snippet else f"HTTP {status}"
    text = f"{status} {problem.title}"
    if problem.detail and problem.detail != problem.title:
        text += f": {problem.detail}"
    return text


def error_for(status: int, content_type: str, body: bytes,
              retry_after: float | None = None) -> TickerError:
    """The typed error for a non-2xx answer."""
    problem = parse_problem(content_type, body)
    message = describe(status, problem, body)
    if status == 429:
        return RateLimited(message, problem=problem, retry_after=retry_after)
    if status in (502, 503, 504):
        return Unavailable(message, status=status, problem=problem, retry_after=retry_after)
    kind = _BY_STATUS.get(status)
    if kind is None:
        kind = InvalidInput if 400 <= status < 500 else TickerError
    return kind(message, status=status, problem=problem)
