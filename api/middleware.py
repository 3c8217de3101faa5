"""Middleware: request id, per-request database connection, body cap, request metrics."""
from __future__ import annotations

import os
import re
import time

import falcon

from api import metrics
from api.endpoint import MAX_BODY
from core import logging as jsonlog
from core.db import db
from core.errors import Invalid, TooLarge

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")


class RequestContext:
    """Request id (echoed when the client sent a sane one), the collaborators, timing and metrics."""

    def __init__(self, auth, dispatcher, limiter):
        self.auth = auth
        self.dispatcher = dispatcher
        self.limiter = limiter

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        sent = req.get_header("X-Request-Id")
        rid = sent if sent and _REQUEST_ID.match(sent) else os.urandom(16).hex()
        req.context.request_id = rid
        req.context.started = time.perf_counter()
        req.context.auth = self.auth
        req.context.dispatcher = self.dispatcher
        req.context.limiter = self.limiter
        req.context.log_token = jsonlog.request_id.set(rid)
        resp.set_header("X-Request-Id", rid)
        if req.content_length is not None and req.content_length > MAX_BODY:
            raise TooLarge(f"The request body is larger than {MAX_BODY} bytes.")
        if "%00" in req.query_string or "\x00" in req.query_string:  # PostgreSQL text cannot hold NUL
            raise Invalid("The query string contains a NUL character.",
                          errors=[{"field": "query", "message": "NUL (%00) is not allowed"}])

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource, req_succeeded: bool) -> None:
        route = req.uri_template or "unmatched"
        status = resp.status_code if hasattr(resp, "status_code") else int(str(resp.status)[:3])
        metrics.observe_request(req.method, route, status, time.perf_counter() - req.context.started)
        token = getattr(req.context, "log_token", None)
        if token is not None:
            jsonlog.request_id.reset(token)


class DatabaseConnection:
    """One pooled connection per request for resources that use the database; returned when the answer is made."""

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params) -> None:
        if resource is not None and getattr(resource, "uses_db", True):
            req.context.db_opened = db.connect(reuse_if_open=True)

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource, req_succeeded: bool) -> None:
        if getattr(req.context, "db_opened", False) and not db.is_closed():
            if db.in_transaction():
                db.rollback()
            db.close()
