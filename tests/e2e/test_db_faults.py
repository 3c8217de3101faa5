"""PostgreSQL connections killed under the API: the affected request answers 503, the next ones recover."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg2

from core import db
from tests.conftest import ADMIN_URL, TEST_DB, wait_for_job
from tests.factories import make_student


def _kill_backends(application: str = "students-tests") -> int:
    """Terminate the test database's connections held by one kind of process (this one by default)."""
    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = %s AND application_name = %s", (TEST_DB, application))
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_killed_connections_give_503_then_recover(client, tokens):
    with db.connection():  # returned to the pool before the kill, like every request's connection
        student = make_student()
    headers = tokens.bearer(tokens.student(student["id"]))

    def read(_):
        return client.simulate_get("/students/profile", headers=headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert {r.status_code for r in pool.map(read, range(32))} == {200}  # fill the pool with connections
        assert _kill_backends() > 0
        answers = list(pool.map(read, range(64)))
    statuses = {r.status_code for r in answers}
    assert statuses <= {200, 503}, statuses
    for refused in (r for r in answers if r.status_code == 503):
        assert refused.json["code"] == "dependency.unavailable" and refused.headers["retry-after"]
    # Without a restart, every request succeeds again.
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert {r.status_code for r in pool.map(read, range(32))} == {200}


def test_worker_recovers_from_killed_connections(client, tokens, worker):
    with db.connection():
        victim = make_student()
        warm = make_student()
    token = tokens.manager()
    first = client.simulate_patch("/students/delete", json={"ids": [str(warm["id"])]}, headers=tokens.bearer(token))
    assert wait_for_job(client, first.json["id"], token)["status"] == "succeeded"  # the worker holds connections
    assert _kill_backends("students-worker") > 0
    resp = client.simulate_patch("/students/delete", json={"ids": [str(victim["id"])]}, headers=tokens.bearer(token))
    assert resp.status_code == 202
    done = wait_for_job(client, resp.json["id"], token, timeout=30)  # the task retries on a fresh connection
    assert done["status"] == "succeeded" and done["result"]["succeeded"] == 1
