"""`students dev` on the embedded default (SQLite + filesystem broker): the whole service, as `make run` starts it."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests.conftest import stop_worker

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    data = orjson.dumps(body) if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


@pytest.fixture
def embedded(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "APP_KEY", "SSO_KEY", "SHOP_KEY", "CELERY_QUEUE",
                        "PROMETHEUS_MULTIPROC_DIR", "JOB_HEARTBEAT_TIMEOUT", "JOB_REDISPATCH_AFTER")}
    # A SQLite URL is the embedded mode (no keys needed); a private file and broker folder keep var/ untouched.
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'students.db'}", BROKER_DIR=str(tmp_path / "broker"),
               PORT=str(port), LOG_LEVEL="INFO")
    log = open(tmp_path / "dev.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "tasks.cli", "dev"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        yield port, tmp_path / "dev.log", proc
    finally:
        stop_worker(proc)  # SIGTERM to the whole process group, SIGKILL after 20 s


def test_make_run_serves_its_curl_example_and_runs_jobs(embedded):
    port, log_path, proc = embedded
    deadline = time.time() + 60
    text = ""
    while time.time() < deadline:
        text = log_path.read_text(errors="replace")
        if "Listening at" in text and "celery@" in text and " ready." in text:
            break
        assert proc.poll() is None, text
        time.sleep(0.2)
    else:
        pytest.fail("service did not start:\n" + text)
    assert "embedded" in text
    admin = re.search(r"admin token.*\n\s+(\S+)", text).group(1)
    curl = re.search(r"curl -s -H 'Authorization: Bearer (\S+)' (http://\S+)", text)
    student, url = curl.group(1), curl.group(2)
    assert url == f"http://127.0.0.1:{port}/students/profile"

    status, profile = _call("GET", url, student)
    assert status == 200 and profile["email"] == "demo.student@example.com"

    base = f"http://127.0.0.1:{port}"
    status, created = _call("POST", base + "/students", admin,
                            {"student_email": "x@example.com", "student_name": "X", "student_phone": "1"})
    assert status == 201, created
    status, job = _call("PATCH", base + "/students/delete", admin, {"ids": [created["id"]]})
    assert status == 202, job
    deadline = time.time() + 30
    while time.time() < deadline and job["status"] not in ("succeeded", "failed"):
        time.sleep(0.3)
        job = _call("GET", f"{base}/jobs/{job['id']}", admin)[1]
    assert job["status"] == "succeeded", job
    assert _call("GET", f"{base}/students/{created['id']}/profile", admin)[0] == 404
