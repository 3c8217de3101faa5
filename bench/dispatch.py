"""Job dispatch: from the 202 of a trivial job (a one-student delete) to `running` and to `succeeded`, p50/p99 over
200 jobs, against a bare Celery no-op task's send-to-start latency (bench/bare_celery.py). Target: p50 < 50 ms to
running. The API runs under gunicorn and the worker as the Procfile runs them; jobs are sent one after another.
"""
from __future__ import annotations

import statistics
import time
import uuid

from bench import common, servers

JOBS = 200


def _pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] * 1000


def run() -> dict:
    common.environment()
    common.fresh_database()
    import http.client

    import orjson
    import redis

    from api.auth import issue_admin_token
    from core import config, db
    from models.students import seed

    settings = config.get()
    with db.connection():
        seed.seed_students(JOBS, workers=1)
        ids = [str(r[0]) for r in db.fetch_all("SELECT id FROM students ORDER BY id")]
    token = issue_admin_token(settings, admin_id="bench", email="b@example.com", role="master_admin")
    figures: dict = {"jobs": JOBS}
    port = servers.free_port()
    queue = settings.queue  # the API publishes to it, the worker consumes it
    with servers.gunicorn("api.app:create_app()", port), servers.celery_worker("tasks.app", queue):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        accepted = {}
        for student_id in ids:
            conn.request("PATCH", "/students/delete", body=orjson.dumps({"ids": [student_id]}),
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            resp = conn.getresponse()
            body = orjson.loads(resp.read())
            assert resp.status == 202, body
            accepted[body["id"]] = time.time()
            time.sleep(0.02)
        deadline = time.time() + 60
        with db.connection():
            while time.time() < deadline and db.fetch_one(
                    "SELECT count(*) FROM jobs WHERE status <> 'succeeded'")[0]:
                time.sleep(0.2)
            rows = db.fetch_all("SELECT id, extract(epoch FROM started_at), extract(epoch FROM finished_at) "
                                "FROM jobs WHERE status = 'succeeded'")
    assert len(rows) == JOBS, f"{len(rows)} of {JOBS} jobs succeeded"
    to_running = [float(started) - accepted[str(job_id)] for job_id, started, _ in rows]
    to_done = [float(finished) - accepted[str(job_id)] for job_id, _, finished in rows]
    figures.update(running_p50_ms=_pct(to_running, 50), running_p99_ms=_pct(to_running, 99),
                   succeeded_p50_ms=_pct(to_done, 50), succeeded_p99_ms=_pct(to_done, 99))

    bare_queue = f"bare-{uuid.uuid4().hex[:6]}"
    key = f"bench:bare:{bare_queue}"
    client = redis.Redis.from_url(settings.redis_url)
    with servers.celery_worker("bench.bare_celery", bare_queue):
        from bench.bare_celery import app as bare

        bare.conf.task_default_queue = bare_queue
        for _ in range(JOBS):
            bare.send_task("bare.noop", args=[time.time(), key], queue=bare_queue)
            time.sleep(0.02)
        deadline = time.time() + 30
        while time.time() < deadline and client.llen(key) < JOBS:
            time.sleep(0.1)
        latencies = [float(v) for v in client.lrange(key, 0, -1)]
        client.delete(key)
    figures.update(bare_start_p50_ms=_pct(latencies, 50), bare_start_p99_ms=_pct(latencies, 99))
    figures["pass"] = figures["running_p50_ms"] < 50
    return common.report("dispatch", figures)


if __name__ == "__main__":
    run()
