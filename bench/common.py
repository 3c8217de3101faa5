"""Shared benchmark plumbing: a bench database on the local PostgreSQL, timing, reporting."""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ADMIN_URL = os.environ.get("BENCH_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_DB = os.environ.get("BENCH_DATABASE", "students_bench")
DATABASE_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + BENCH_DB


def environment() -> None:
    """Point the service at the bench database (before any project module reads its settings)."""
    os.environ.update({
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "APP_KEY": "bench-app-key-0123456789abcdef012345678",
        "SSO_KEY": "bench-sso-key-0123456789abcdef012345678",
        "SHOP_KEY": "bench-shop-key-0123456789abcdef01234567",
        "CELERY_QUEUE": "students-bench",
        "LOG_LEVEL": "WARNING",
    })


def fresh_database() -> None:
    """Drop and re-create the bench database, migrate it, bind the service to it."""
    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{BENCH_DB}"')
    conn.close()
    from core import config, db
    from models import schema

    if db.db.obj is None:
        db.init(config.get().database_url, pool_size=4)
    else:  # the dropped database's pooled connections are dead: forget them
        db.db.obj.close_all()
    schema.migrate()


def settle() -> None:
    """Flush dirty pages (CHECKPOINT) so that a measurement does not share the disk with the last one's writes."""
    from core import db

    db.execute("CHECKPOINT")


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def report(name: str, figures: dict) -> dict:
    """Print one benchmark's figures and write them as JSON under bench/results/."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
    print(f"\n== {name}")
    for key, value in figures.items():
        print(f"  {key:<38} {value:.4f}" if isinstance(value, float) else f"  {key:<38} {value}")
    return figures
