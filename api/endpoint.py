"""The `@endpoint` declaration on every responder: guard, request schema, response schema, docs.

The same declaration validates the request and generates the OpenAPI document (api/openapi.py), so the two cannot
drift apart. Order of checks: authentication and guard (401/403) first, then the body (400/413/415/422).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import falcon
import orjson
import pydantic

from core.errors import BadRequest, Invalid, TooLarge

MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Endpoint:
    guard: str | None
    summary: str
    body: type[pydantic.BaseModel] | None = None
    response: type[pydantic.BaseModel] | Any = None
    status: int = 200
    deprecated: str | None = None  # the successor path, or "" when there is none
    tags: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()


def endpoint(*, guard: str | None, summary: str, body: type[pydantic.BaseModel] | None = None,
             response: Any = None, status: int = 200, deprecated: str | None = None, tags: tuple[str, ...] = (),
             errors: tuple[int, ...] = ()) -> Callable:
    """Declare a responder: `guard` names a guard of SPEC §1 (None: public); `body` the request model."""
    meta = Endpoint(guard=guard, summary=summary, body=body, response=response, status=status,
                    deprecated=deprecated, tags=tags, errors=errors)

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def responder(self, req: falcon.Request, resp: falcon.Response, **params: Any) -> None:
            if deprecated is not None:  # on every answer of the route, refusals included
                resp.set_header("Deprecation", "true")
                if deprecated:
                    successor = deprecated.format(**params)  # the successor of this very resource
                    resp.set_header("Link", f'<{successor}>; rel="successor-version"')
            if guard is not None:
                req.context.principal = req.context.auth.guards[guard](req)
                req.context.limiter.check(req.method, req.context.principal)
            if body is not None:
                params["body"] = parse_body(req, body)
            elif req.method in ("POST", "PATCH", "PUT"):
                refuse_body(req)
            fn(self, req, resp, **params)

        responder.__endpoint__ = meta  # type: ignore[attr-defined]
        return responder

    return wrap


def read_json(req: falcon.Request) -> Any:
    """The request body as JSON (empty means `{}`), capped at 1 MiB."""
    if req.content_length and req.content_length > MAX_BODY:
        raise TooLarge(f"The request body is larger than {MAX_BODY} bytes.")
    raw = req.bounded_stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise TooLarge(f"The request body is larger than {MAX_BODY} bytes.")
    if not raw.strip():
        return {}
    content_type = (req.content_type or "application/json").split(";", 1)[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise falcon.HTTPUnsupportedMediaType(description="Send the body as application/json.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("The request body is not valid JSON.", code="request.malformed-json") from None


def validation_errors(exc: pydantic.ValidationError) -> list[dict]:
    out = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in error["loc"]) or "body"
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        out.append({"field": loc, "message": message})
    return out


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def validate(model: type[pydantic.BaseModel], data: Any, what: str = "request body") -> Any:
    if _has_nul(data):  # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database
        raise Invalid(f"The {what} contains a NUL character.", code="request.invalid",
                      errors=[{"field": "body", "message": "NUL (\\u0000) is not allowed in text"}])
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise Invalid(f"The {what} is not valid.", code="request.invalid", errors=validation_errors(exc)) from None


def refuse_body(req: falcon.Request) -> None:
    """A route that names no body field: any field sent is unknown (SPEC §2), so nothing is ever mass-assigned."""
    data = read_json(req)
    if data == {}:
        return
    fields = list(data) if isinstance(data, dict) else ["body"]
    raise Invalid("This route takes no request body.", code="request.invalid",
                  errors=[{"field": str(f), "message": "unknown field"} for f in fields])


def parse_body(req: falcon.Request, model: type[pydantic.BaseModel]) -> Any:
    return validate(model, read_json(req))
