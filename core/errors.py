"""One exception hierarchy for the domain; `api/errors.py` maps it to problem+json in one place."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A failure the caller can act on: a stable dotted `code`, an HTTP-like `status` and a human `detail`."""

    status = 400
    title = "Bad Request"
    code = "request.invalid"

    def __init__(self, detail: str, *, code: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra or {}


class Invalid(DomainError):
    status, title, code = 422, "Unprocessable Content", "request.invalid"

    def __init__(self, detail: str, *, code: str | None = None, errors: list[dict] | None = None,
                 extra: dict[str, Any] | None = None):
        super().__init__(detail, code=code, extra=extra)
        self.errors = errors or []


class BadRequest(DomainError):
    status, title, code = 400, "Bad Request", "request.malformed"


class Unauthorized(DomainError):
    status, title, code = 401, "Unauthorized", "auth.invalid-token"


class Forbidden(DomainError):
    status, title, code = 403, "Forbidden", "auth.forbidden"


class NotFound(DomainError):
    status, title, code = 404, "Not Found", "not-found"


class Conflict(DomainError):
    status, title, code = 409, "Conflict", "conflict"


class Gone(DomainError):
    status, title, code = 410, "Gone", "gone"


class TooLarge(DomainError):
    status, title, code = 413, "Content Too Large", "request.too-large"


class RateLimited(DomainError):
    """Too many writes from one principal in the current window; retry after `retry_after` seconds."""

    status, title, code = 429, "Too Many Requests", "rate-limited"

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A dependency (database, Redis) did not answer; the client may retry after `retry_after` seconds."""

    status, title, code = 503, "Service Unavailable", "dependency.unavailable"
    retry_after = 5
