"""Operations routes (not under /students): health, readiness, metrics, OpenAPI, docs."""
from __future__ import annotations

import mimetypes
from pathlib import Path

import falcon
import redis
import swagger_ui_bundle

from api import metrics
from api.endpoint import endpoint
from core.db import connection, db
from models.jobs import ops as jobs

DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Students service API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
</body></html>"""


class Health:
    uses_db = False

    @endpoint(guard=None, summary="Liveness: the process answers (no I/O)", tags=("operations",))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Ready:
    uses_db = False

    def __init__(self, redis_url: str | None):
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2) if redis_url else None

    @endpoint(guard=None, summary="Readiness: PostgreSQL and Redis reachable", tags=("operations",), errors=(503,))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        checks = {"database": "ok", "redis": "ok" if self.redis else "not configured"}
        try:
            with connection():
                db.execute_sql("SELECT 1")
        except Exception:  # any failure means not ready
            checks["database"] = "unreachable"
        if self.redis is not None:
            try:
                self.redis.ping()
            except redis.RedisError:
                checks["redis"] = "unreachable"
        ready = "unreachable" not in checks.values()
        if not ready:
            resp.set_header("Retry-After", "5")
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        resp.media = {"status": "ok" if ready else "unavailable", "checks": checks}


class Metrics:
    uses_db = False

    def __init__(self, redis_url: str | None, queue: str):
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2) if redis_url else None
        self.queue = queue
        self.collector = metrics.JobsCollector(self._count_jobs, self._queue_depth)

    def _count_jobs(self):
        with connection():
            return jobs.counts_by_type_and_status()

    def _queue_depth(self):
        return self.redis.llen(self.queue) if self.redis is not None else None

    @endpoint(guard=None, summary="Prometheus metrics", tags=("operations",))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data, resp.content_type = metrics.render(self.collector)


class OpenAPI:
    uses_db = False

    def __init__(self, document: dict):
        self.document = document

    @endpoint(guard=None, summary="This OpenAPI 3.1 document", tags=("operations",))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.document


class Docs:
    """Swagger UI from the locally installed bundle: no CDN."""

    uses_db = False
    root = Path(swagger_ui_bundle.swagger_ui_path)

    @endpoint(guard=None, summary="Interactive API docs", tags=("operations",))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "text/html; charset=utf-8"
        resp.text = DOCS_PAGE

    def on_get_static(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        path = (self.root / name).resolve()
        if path.parent != self.root.resolve() or not path.is_file():
            raise falcon.HTTPNotFound()
        resp.content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        resp.set_header("Cache-Control", "public, max-age=86400")
        resp.data = path.read_bytes()
