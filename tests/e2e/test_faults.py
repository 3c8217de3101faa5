"""Faults with real parts: the broker down while jobs are submitted, a worker SIGKILLed mid-job."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid

import falcon.testing
import pytest
import redis

from api.app import create_app
from models.jobs.tables import Job
from models.students.tables import Student
from tasks.broker import Dispatcher, redispatch_stale
from tests.conftest import kill_worker_at, redispatch_when_stale, start_worker, stop_worker, wait_for_job
from tests.factories import make_student


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own on a spare port, so that stopping it disturbs nothing else."""

    def __init__(self, tmp_path):
        self.port = _free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if client.ping():
                    client.close()
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def _harness(settings, redis_url: str, **worker_env):
    """Settings, an app and a dispatcher bound to `redis_url` and a queue of their own."""
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    local = settings.with_(redis_url=redis_url, queue=queue)
    dispatcher = Dispatcher(local)
    client = falcon.testing.TestClient(create_app(local, dispatcher=dispatcher))
    env = {"REDIS_URL": redis_url, "CELERY_QUEUE": queue, **{k: str(v) for k, v in worker_env.items()}}
    return local, dispatcher, client, env


def test_jobs_submitted_while_redis_is_down_complete_after_it_returns(settings, tokens, conn, own_redis):
    _local, dispatcher, client, env = _harness(settings, own_redis.url)
    worker = start_worker(env)
    try:
        victims = [str(make_student()["id"]) for _ in range(50)]
        own_redis.stop()
        token = tokens.manager()
        started = time.perf_counter()
        job_ids = []
        for victim in victims:  # 50 submissions during the outage, each its own job
            resp = client.simulate_patch("/students/delete", json={"ids": [victim]}, headers=tokens.bearer(token))
            assert resp.status_code == 202, resp.text
            job_ids.append(resp.json["id"])
        assert time.perf_counter() - started < 15, "a broker outage must not hold the requests"
        time.sleep(1.5)
        assert Job.select().where(Job.id.in_(job_ids), Job.status == "queued").count() == 50

        own_redis.start()
        time.sleep(1.1)  # older than JOB_REDISPATCH_AFTER
        assert set(job_ids) <= set(redispatch_stale(dispatcher, queued_for=1))
        for job_id in job_ids:
            done = wait_for_job(client, job_id, token, timeout=60)
            assert done["status"] == "succeeded" and done["result"]["succeeded"] == 1
        assert Student.select().where(Student.id.in_(victims), Student.deleted_at.is_null()).count() == 0
    finally:
        stop_worker(worker)
        dispatcher.close()


def test_worker_killed_mid_job_does_not_lose_it_or_apply_twice(settings, tokens, conn):
    _local, dispatcher, client, env = _harness(settings, settings.redis_url)
    slow = start_worker({**env, "JOB_CHUNK_SIZE": "2", "JOB_CHUNK_PAUSE": "0.3"}, concurrency=1)
    fresh = None
    try:
        victims = [str(make_student()["id"]) for _ in range(20)]
        token = tokens.manager()
        resp = client.simulate_patch("/students/delete", json={"ids": victims}, headers=tokens.bearer(token))
        assert resp.status_code == 202
        job_id = resp.json["id"]
        killed = kill_worker_at(slow, job_id, 4)
        assert killed.status == "running" and 4 <= killed.progress_done < 20
        deleted_at_kill = Student.select().where(Student.deleted_at.is_null(False)).count()
        assert deleted_at_kill == killed.progress_done, "effects and progress commit together"

        fresh = start_worker(env)
        redispatch_when_stale(dispatcher, job_id)
        done = wait_for_job(client, job_id, token, timeout=60)
        assert done["status"] == "succeeded"
        # A chunk applied twice would show up as "already deleted" errors.
        assert done["result"] == {"succeeded": 20, "failed": 0, "errors": []}
        assert done["progress"]["done"] == 20
        assert Job.get_by_id(job_id).attempts == 2
        assert Student.select().where(Student.deleted_at.is_null(False)).count() == 20
    finally:
        stop_worker(slow, kill=True)
        if fresh is not None:
            stop_worker(fresh)
        dispatcher.close()


def test_worker_killed_during_an_export_finishes_with_each_student_once(settings, tokens, conn):
    _local, dispatcher, client, env = _harness(settings, settings.redis_url)
    slow = start_worker({**env, "JOB_CHUNK_PAUSE": "5"}, concurrency=1)  # sleeps after the file's chunk commits
    fresh = None
    try:
        ids = {str(make_student()["id"]) for _ in range(30)}
        token = tokens.manager()
        resp = client.simulate_post("/students/export-csv", json={}, headers=tokens.bearer(token))
        assert resp.status_code == 202
        job_id = resp.json["id"]
        assert kill_worker_at(slow, job_id, 30).status == "running"

        fresh = start_worker(env)
        redispatch_when_stale(dispatcher, job_id)
        done = wait_for_job(client, job_id, token, timeout=60)
        assert done["status"] == "succeeded" and done["result"]["rows"] == 30
        assert done["progress"] == {"done": 30, "total": 30, "percent": 100.0}
        csv_text = client.simulate_get(f"/jobs/{job_id}/result", headers=tokens.bearer(token)).text
        exported = [line.split(",", 1)[0] for line in csv_text.strip().splitlines()[1:]]
        assert sorted(exported) == sorted(ids)
    finally:
        stop_worker(slow, kill=True)
        if fresh is not None:
            stop_worker(fresh)
        dispatcher.close()
