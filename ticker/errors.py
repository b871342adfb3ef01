"""Errors that carry their HTTP meaning. ``ticker.web.problems`` maps them to problem+json.

A broker that cannot be reached is not one of them: the engines raise
``ticker.brokers.base.BrokerUnavailableError`` and ``ticker.web.problems`` alone turns it into
``503``, wherever it was raised."""

from __future__ import annotations

from ticker.model.problem import FieldError


class TickerError(Exception):
    """Base class: ``status`` and a problem ``slug`` (the last part of the problem type URI)."""

    status = 500
    slug = "internal"
    title = "Internal error"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail


class MalformedJSON(TickerError):
    status, slug, title = 400, "malformed-json", "The body is not valid JSON"


class Unauthorized(TickerError):
    status, slug, title = 401, "unauthorized", "A valid bearer token is required"


class Forbidden(TickerError):
    status, slug, title = 403, "forbidden", "This token may not do that"


class OriginNotAllowed(TickerError):
    status, slug, title = 403, "origin-not-allowed", "This origin may not use the live stream"


class NotFound(TickerError):
    status, slug, title = 404, "not-found", "No such resource"


class Conflict(TickerError):
    status, slug, title = 409, "conflict", "The resource is in a state that forbids this"


class BodyTooLarge(TickerError):
    status, slug, title = 413, "body-too-large", "The request body is too large"


class UnsupportedMediaType(TickerError):
    status, slug, title = 415, "unsupported-media-type", "The body must be application/json"


class InvalidInput(TickerError):
    """One or more fields break a rule; ``errors`` lists every one of them by path."""

    status, slug, title = 422, "invalid-input", "One or more fields are invalid"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = errors


class RateLimited(TickerError):
    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
