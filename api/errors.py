"""The one translation point from errors (domain, HTTP, database, anything else) to problem+json (RFC 9457)."""
from __future__ import annotations

import logging
from http import HTTPStatus

import falcon
import orjson
import peewee

from core.errors import DomainError, Invalid, RateLimited, Unavailable

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"

# Stable codes for the errors Falcon raises itself (routing, media, headers).
_HTTP_CODES = {
    400: "request.malformed",
    401: "auth.invalid-token",
    403: "auth.forbidden",
    404: "route.not-found",
    405: "route.method-not-allowed",
    409: "conflict",
    413: "request.too-large",
    415: "request.unsupported-media-type",
    422: "request.invalid",
    429: "rate-limited",
    503: "dependency.unavailable",
}


def problem(resp: falcon.Response, *, status: int, title: str, detail: str, code: str, **extra) -> None:
    # The standard members win over any extra member of the same name.
    body = {**extra, "type": "about:blank", "title": title, "status": status, "detail": detail, "code": code}
    resp.status = status
    resp.content_type = PROBLEM
    resp.data = orjson.dumps(body)


def handle_domain(req, resp, exc: DomainError, params) -> None:
    extra = dict(exc.extra)
    if isinstance(exc, Invalid):
        extra["errors"] = exc.errors
    if isinstance(exc, (Unavailable, RateLimited)):
        resp.set_header("Retry-After", str(exc.retry_after))
    if exc.status == 401:
        resp.set_header("WWW-Authenticate", "Bearer")
    problem(resp, status=exc.status, title=exc.title, detail=exc.detail, code=exc.code, **extra)


def handle_http(req, resp, exc: falcon.HTTPError, params) -> None:
    status = exc.status_code
    if exc.headers:
        resp.set_headers(exc.headers)
    title = HTTPStatus(status).phrase
    if isinstance(exc, falcon.MediaMalformedError):
        detail = "The request body is not valid JSON."
    else:
        detail = exc.description or title
    problem(resp, status=status, title=title, detail=detail, code=_HTTP_CODES.get(status, f"http.{status}"))


def handle_database(req, resp, exc: peewee.OperationalError, params) -> None:
    log.warning("database unavailable", extra={"error": type(exc).__name__})
    resp.set_header("Retry-After", "5")
    problem(resp, status=503, title="Service Unavailable", detail="The database is not reachable; retry shortly.",
            code="dependency.unavailable")


def handle_unexpected(req, resp, exc: Exception, params) -> None:
    if isinstance(exc, falcon.HTTPError):
        return handle_http(req, resp, exc, params)
    log.exception("unhandled error", extra={"route": req.uri_template, "method": req.method})
    problem(resp, status=500, title="Internal Server Error", detail="An unexpected error occurred.",
            code="internal-error")


def register(app: falcon.App) -> None:
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http)
    app.add_error_handler(DomainError, handle_domain)
    app.add_error_handler(peewee.OperationalError, handle_database)
    app.add_error_handler(peewee.InterfaceError, handle_database)
