"""create_app(settings) -> falcon.App: middleware, error handlers and the route table in one list."""
from __future__ import annotations

import falcon
import orjson
from falcon import media

from api import admin, errors, ledger, metrics, openapi, preferences, products, scores
from api.accounts import (
    CreateAccount,
    EmailExistsResource,
    RefreshToken,
    ShopExternalId,
    SyncStudent,
    UpsertWithExternalId,
)
from api.auth import Authenticator, ReplayCache
from api.jobs import JobCancelResource, JobResource, JobResultResource, JobsResource
from api.middleware import DatabaseConnection, RequestContext
from api.ops import Docs, Health, Metrics, OpenAPI, Ready
from api.ratelimit import WriteLimiter
from api.students import (
    AdminExternalId,
    AdminProfileResource,
    DeleteStudentsResource,
    SelfProfileResource,
    Students,
    UsernameResource,
)
from core import config, db
from core import logging as jsonlog

VERSION = "0.1.0"


def route_table(settings: config.Settings) -> list[tuple[str, object, str | None]]:
    """Every route the service serves: (template, resource, responder suffix)."""
    docs = Docs()
    return [
        ("/students", Students(), None),
        ("/students/sync-student", SyncStudent(), None),
        ("/students/refresh-token", RefreshToken(), None),
        ("/students/create-account", CreateAccount(), None),
        ("/students/upsert-with-external-id", UpsertWithExternalId(), None),
        ("/students/external-id", ShopExternalId(), None),
        ("/students/{id:uuid}/external-id", AdminExternalId(), None),
        ("/students/email-exists", EmailExistsResource(), None),
        ("/students/profile", SelfProfileResource(), None),
        ("/students/{id:uuid}/profile", AdminProfileResource(), None),
        ("/students/username", UsernameResource(), None),
        *preferences.routes(),
        *products.routes(),
        *ledger.routes(),
        *scores.routes(),
        *admin.routes(),
        ("/students/delete", DeleteStudentsResource(), None),
        ("/jobs", JobsResource(), None),
        ("/jobs/{id:uuid}", JobResource(), None),
        ("/jobs/{id:uuid}/result", JobResultResource(), None),
        ("/jobs/{id:uuid}/cancel", JobCancelResource(), None),
        ("/healthz", Health(), None),
        ("/readyz", Ready(settings.redis_url), None),
        ("/metrics", Metrics(settings.redis_url, settings.queue), None),
        ("/docs", docs, None),
        ("/docs/static/{name}", docs, "static"),
    ]


def create_app(settings: config.Settings | None = None, *, dispatcher=None) -> falcon.App:
    """The WSGI app for `settings` (read from the environment when None); `dispatcher` publishes jobs."""
    settings = settings or config.get()
    jsonlog.setup(settings.log_level)
    if db.db.obj is None:
        db.init(settings.database_url, pool_size=settings.db_pool_size, application_name="students-web")
    if dispatcher is None:
        from tasks.broker import Dispatcher

        dispatcher = Dispatcher(settings)
    auth = Authenticator(settings, ReplayCache(settings.redis_url), on_failure=metrics.auth_failure)

    limiter = WriteLimiter(settings.redis_url, settings.rate_limit)
    middleware: list = [RequestContext(auth, dispatcher, limiter), DatabaseConnection()]
    if settings.cors_origins:
        middleware.insert(0, falcon.CORSMiddleware(allow_origins=list(settings.cors_origins),
                                                   expose_headers=["Location", "X-Request-Id", "Retry-After"]))
    app = falcon.App(middleware=middleware)
    json = media.JSONHandler(dumps=orjson.dumps, loads=orjson.loads)
    app.req_options.media_handlers[falcon.MEDIA_JSON] = json
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = json
    app.req_options.strip_url_path_trailing_slash = True
    errors.register(app)

    routes = route_table(settings)
    for template, resource, suffix in routes:
        app.add_route(template, resource, suffix=suffix) if suffix else app.add_route(template, resource)
    app.add_route("/openapi.json", OpenAPI(openapi.build(routes + [("/openapi.json", OpenAPI({}), None)],
                                                         title="Students service", version=VERSION)))
    return app
