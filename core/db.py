"""The peewee database: deferred initialisation from DATABASE_URL, per-unit-of-work connections, after_commit.

PostgreSQL uses the pooled connection class of peewee 4.5 (`playhouse.postgres_ext`); the embedded default uses a
SQLite file. Nothing here connects at import time: a forked child (gunicorn worker, Celery pool process) must call
`dispose()` so that it never reuses its parent's socket.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import peewee
from playhouse.db_url import parse

db = peewee.DatabaseProxy()

_is_postgres = False


def init(database_url: str, *, pool_size: int = 8, application_name: str = "students") -> peewee.Database:
    """Bind the proxy to a real database for `database_url` (no connection is opened)."""
    global _is_postgres
    if database_url.startswith("sqlite:///"):
        path = Path(database_url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        real: peewee.Database = peewee.SqliteDatabase(
            str(path),
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10000, "synchronous": "normal"},
            returning_clause=True,
            autoconnect=False,
        )
        _is_postgres = False
    else:
        import psycopg2.extras

        # JSON columns come back as Python values parsed by orjson, the same way on every connection.
        psycopg2.extras.register_default_jsonb(globally=True, loads=orjson.loads)
        psycopg2.extras.register_default_json(globally=True, loads=orjson.loads)
        params = parse(database_url)
        name = params.pop("database")
        real = _pool_class()(
            name,
            max_connections=pool_size,
            stale_timeout=300,
            timeout=10,
            autoconnect=False,
            register_hstore=False,
            options="-c timezone=UTC",
            application_name=application_name,  # who holds a connection, in pg_stat_activity
            **params,
        )
        _is_postgres = True
    db.initialize(real)
    return real


def _pool_class():
    from playhouse.postgres_ext import PooledPostgresqlExtDatabase
    from psycopg2 import extensions

    class Pool(PooledPostgresqlExtDatabase):
        """The pooled database, without peewee's `SELECT 1` round trip on every check-out.

        A connection the server dropped fails its first statement (the API answers 503) and psycopg2 marks it
        closed, so it is discarded on check-in; an open transaction left behind is rolled back here.
        """

        def _is_closed(self, conn) -> bool:
            if conn.closed:
                return True
            status = conn.info.transaction_status
            if status == extensions.TRANSACTION_STATUS_UNKNOWN:
                return True
            if status != extensions.TRANSACTION_STATUS_IDLE:
                try:
                    conn.rollback()
                except Exception:  # a connection that cannot roll back is dead
                    return True
            return False

    return Pool


def is_postgres() -> bool:
    return _is_postgres


def dispose() -> None:
    """Forget inherited connections without closing them (call right after a fork)."""
    if db.obj is not None:
        db.obj.dispose()


@contextlib.contextmanager
def connection() -> Iterator[None]:
    """Hold a connection for one unit of work; close (return to the pool) only what this opened."""
    opened = db.connect(reuse_if_open=True)
    try:
        yield
    finally:
        if opened and not db.is_closed():
            if db.in_transaction():
                db.rollback()
            db.close()


def after_commit(fn: Callable[[], Any]) -> None:
    """Run `fn` once the outermost transaction commits (at once when there is none)."""
    db.after_commit(fn)


_NAMED = re.compile(r"%\((\w+)\)s")


def _sql(text: str, named: bool = False) -> str:
    if _is_postgres:
        return text
    return _NAMED.sub(r":\1", text) if named else text.replace("%s", "?")


def execute(text: str, params: Sequence[Any] | dict = ()) -> Any:
    """Run one statement written with %s (or, given a dict, %(name)s) placeholders; returns the cursor."""
    if isinstance(params, dict):
        if not _is_postgres:
            params = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in params.items()}
        return db.execute_sql(_sql(text, named=True), params)
    return db.execute_sql(_sql(text), params)


def fetch_one(text: str, params: Sequence[Any] = ()) -> tuple | None:
    return execute(text, params).fetchone()


def fetch_all(text: str, params: Sequence[Any] = ()) -> list[tuple]:
    return execute(text, params).fetchall()


def fetch_dicts(text: str, params: Sequence[Any] = ()) -> list[dict]:
    cursor = execute(text, params)
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def integrity_constraint(exc: BaseException) -> str:
    """The name of the constraint or index an IntegrityError broke ('' if unknown)."""
    cause = exc.__cause__ or exc
    diag = getattr(cause, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return diag.constraint_name
    return str(cause)
