"""Test set-up: a throwaway PostgreSQL database, a Redis database, a real Celery worker process.

The environment is set before any project module is imported, because the worker's Celery app and the settings are
read once per process.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

import peewee
import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN_ID = secrets.token_hex(4)
ADMIN_URL = os.environ.get("TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_DB = f"students_test_{RUN_ID}"
TEST_DATABASE_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + TEST_DB
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

os.environ.update({
    "DATABASE_URL": TEST_DATABASE_URL,
    "REDIS_URL": TEST_REDIS_URL,
    "APP_KEY": "test-app-key-0123456789abcdef0123456789",
    "SSO_KEY": "test-sso-key-0123456789abcdef0123456789",
    "SHOP_KEY": "test-shop-key-0123456789abcdef012345678",
    "CELERY_QUEUE": f"students-test-{RUN_ID}",
    "JOB_HEARTBEAT_TIMEOUT": "4",
    "JOB_REDISPATCH_AFTER": "1",
    "LOG_LEVEL": "WARNING",
    "RATE_LIMIT_WRITES": "off",  # tests write fast from few principals; tests/api/test_rate_limit.py turns it on
    "EXPORT_DIR": str(ROOT / "var" / f"test-exports-{RUN_ID}"),
})
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

from core import config, db  # noqa: E402

TABLES = ("jobs", "student_exam_scores", "student_books", "student_exams", "student_courses", "course_end_dates",
          "products", "exam_types", "salty_bucks_daily_log", "salty_bucks_logs", "students")


def _admin_execute(sql: str) -> None:
    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture(scope="session", autouse=True)
def database():
    """Create the throwaway database, migrate it, drop it at the end."""
    _admin_execute(f'CREATE DATABASE "{TEST_DB}"')
    settings = config.get()
    db.init(settings.database_url, pool_size=16, application_name="students-tests")
    from models import schema

    schema.migrate()
    yield settings
    db.db.close_all() if hasattr(db.db.obj, "close_all") else None
    _admin_execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')


@pytest.fixture
def settings(database) -> config.Settings:
    return database


@pytest.fixture(autouse=True)
def clean(database):
    """Every test starts from empty tables (truncation: the worker sees only committed rows anyway).

    Jobs a test left queued are cancelled, so a worker that receives them late does not claim them, and running
    ones are given time to finish: TRUNCATE under a job's open transaction would deadlock.
    """
    yield
    for attempt in range(5):
        try:
            with db.connection():  # a fresh connection each try: a test may have killed pooled ones
                _truncate()
            return
        except peewee.OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.5)


def _truncate() -> None:
    db.execute("UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE status = 'queued'")
    deadline = time.time() + 20
    while time.time() < deadline and db.fetch_one("SELECT count(*) FROM jobs WHERE status = 'running' "
                                                  "AND heartbeat_at > now() - interval '10 seconds'")[0]:
        time.sleep(0.05)
    db.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE")


@pytest.fixture
def conn(database):
    """A connection held for the test body (operations called directly)."""
    with db.connection():
        yield


@pytest.fixture(scope="session")
def dispatcher(database):
    from tasks.broker import Dispatcher

    d = Dispatcher(database)
    yield d
    d.close()


@pytest.fixture(scope="session")
def app(database, dispatcher):
    from api.app import create_app

    return create_app(database, dispatcher=dispatcher)


@pytest.fixture
def client(app):
    import falcon.testing

    return falcon.testing.TestClient(app)


def start_worker(env: dict | None = None, *, concurrency: int = 2, log: Path | None = None) -> subprocess.Popen:
    """A real `celery worker` process (its own process group, so a test can SIGKILL all of it)."""
    log = log or ROOT / "var" / f"test-worker-{RUN_ID}-{uuid.uuid4().hex[:6]}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "LOG_LEVEL": "INFO", **(env or {})}
    out = open(log, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks.app", "worker", "--loglevel=INFO",
         f"--concurrency={concurrency}", f"--queues={full_env['CELERY_QUEUE']}",
         "--without-gossip", "--without-mingle", "--hostname", f"test-{uuid.uuid4().hex[:8]}@%h"],
        cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )
    out.close()
    deadline = time.time() + 30
    while time.time() < deadline:
        if b"ready." in log.read_bytes():
            proc.log_path = log  # type: ignore[attr-defined]
            return proc
        if proc.poll() is not None:
            raise RuntimeError("celery worker exited:\n" + log.read_text())
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("celery worker did not become ready:\n" + log.read_text())


def stop_worker(proc: subprocess.Popen, *, kill: bool = False) -> None:
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def worker(database):
    """One real worker for the session's job tests."""
    proc = start_worker()
    yield proc
    stop_worker(proc)


def kill_worker_at(proc: subprocess.Popen, job_id: str, progress: int, *, timeout: float = 30):
    """Wait until the job has committed `progress` items, then SIGKILL the whole worker; returns the job row."""
    import signal

    from models.jobs.tables import Job

    deadline = time.time() + timeout
    while Job.get_by_id(job_id).progress_done < progress and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    return Job.get_by_id(job_id)


def redispatch_when_stale(dispatcher, job_id: str) -> None:
    """Let the killed worker's heartbeat go stale, then run the re-dispatch the beat schedule would run."""
    from tasks.broker import redispatch_stale

    time.sleep(dispatcher.settings.job_heartbeat_timeout + 0.5)
    assert job_id in redispatch_stale(dispatcher, queued_for=60)


def wait_for_job(client, job_id: str, token: str, *, statuses=("succeeded", "failed", "cancelled"),
                 timeout: float = 30) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = client.simulate_get(f"/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}).json
        if body["status"] in statuses:
            return body
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not reach {statuses}: {body}")


@pytest.fixture
def tokens(settings):
    from tests.factories import Tokens

    return Tokens(settings)
