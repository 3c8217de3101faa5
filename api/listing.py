"""The list query grammar of SPEC §2: bracket parameters, whitelisted sorts, opaque cursors."""
from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

import falcon
import orjson

from core.errors import Invalid

MAX_TAKE = 100


def take(req: falcon.Request, default: int = 10) -> int:
    raw = req.get_param("limit[take]")
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_TAKE:
        raise Invalid("limit[take] must be an integer from 1 to 100.",
                      errors=[{"field": "limit[take]", "message": "must be an integer from 1 to 100"}])
    return int(raw)


def encode_cursor(*values) -> str:
    payload = [v.isoformat() if isinstance(v, dt.datetime) else str(v) for v in values]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_cursor(raw: str | None, parsers: tuple[Callable[[str], Any], ...]) -> list[Any] | None:
    """The keyset values of a cursor, each parsed by its parser; anything this service did not issue is a 422."""
    if raw is None or raw == "":
        return None
    try:
        values = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(values, list) or len(values) != len(parsers) or not all(isinstance(v, str) for v in values):
            raise ValueError
        return [parse(v) for parse, v in zip(parsers, values)]
    except ValueError:
        raise Invalid("The cursor is not valid.", code="request.invalid-cursor",
                      errors=[{"field": "cursor", "message": "not a cursor this service issued"}]) from None


def one_of(req: falcon.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = req.get_param(name)
    if raw is not None and raw not in allowed:
        raise Invalid(f"{name} must be one of: {', '.join(allowed)}.",
                      errors=[{"field": name, "message": f"must be one of {list(allowed)}"}])
    return raw


def page(req: falcon.Request) -> int:
    raw = req.get_param("limit[page]")
    if raw is None:
        return 1
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise Invalid("limit[page] must be an integer from 1.",
                      errors=[{"field": "limit[page]", "message": "must be an integer from 1"}])
    return int(raw)


def order(req: falcon.Request, allowed: tuple[str, ...], default: str, default_dir: str = "desc") -> tuple[str, str]:
    """The whitelisted `order[by]` column and `order[dir]`; anything else is a 422."""
    by = req.get_param("order[by]") or default
    if by not in allowed:
        raise Invalid(f"order[by] must be one of: {', '.join(allowed)}.",
                      errors=[{"field": "order[by]", "message": f"must be one of {list(allowed)}"}])
    direction = one_of(req, "order[dir]", ("asc", "desc")) or default_dir
    return by, direction


def paged(rows: list, total: int, page_no: int, take_n: int) -> dict:
    """The list answer of SPEC §2."""
    return {"data": rows, "meta": {"recordsTotal": total, "pagesTotal": -(-total // take_n) if total else 0,
                                   "page": page_no, "take": take_n}}
