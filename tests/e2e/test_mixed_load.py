"""A bounded mixed workload against gunicorn from several processes: reads, preference writes, SB credits and debits,
job submissions. No 5xx, and afterwards every balance still equals income minus outcome."""
from __future__ import annotations

import http.client
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from models.ledger import reports
from models.products import catalogue
from tests.conftest import wait_for_job
from tests.factories import Tokens, make_student

ROOT = Path(__file__).resolve().parents[2]
SECONDS = float(os.environ.get("MIXED_LOAD_SECONDS", "30"))
PROCESSES = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "api.app:create_app()", "-c", "gunicorn.conf.py"],
                            cwd=ROOT, env={**os.environ, "PORT": str(port)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield port
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(30)


def _client_process(port: int, students: list[tuple[str, str]], admin: str, seconds: float, seed: int, out) -> None:
    """One load process: a random mix of requests until the time is up; reports its status counts."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    statuses: Counter = Counter()
    deadline = time.time() + seconds
    while time.time() < deadline:
        student_id, token = rng.choice(students)
        student = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        staff = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
        roll = rng.random()
        if roll < 0.4:
            request = ("GET", "/students/profile", None, student)
        elif roll < 0.6:
            request = ("PATCH", "/students/set-theme", {"theme": rng.choice(["light", "dark"])}, student)
        elif roll < 0.75:
            request = ("PATCH", "/students/bump-site-activity", {"duration": rng.choice([2, 30])}, student)
        elif roll < 0.9:
            request = ("PATCH", f"/students/{student_id}/salty-bucks-balance",
                       {"salty_bucks_balance": rng.randrange(0, 500)}, staff)
        else:
            request = ("POST", "/students/bulk/attach-products",
                       {"student_ids": [student_id], "exams": [{"external_id": "1003"}]}, staff)
        method, path, body, headers = request
        conn.request(method, path, body=orjson.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        resp.read()
        statuses[(method, path.split("/")[-1], resp.status)] += 1
    out.put(dict(statuses))


def test_mixed_workload_has_no_5xx_and_keeps_the_ledger_exact(server, settings, conn, worker, client):
    catalogue.load_file(catalogue.EXAMPLE)
    tokens = Tokens(settings)
    made = [make_student() for _ in range(40)]
    students = [(str(m["id"]), tokens.student(m["id"], m["email"])) for m in made]
    admin = tokens.manager()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_client_process, args=(server, students, admin, SECONDS, i, out))
             for i in range(PROCESSES)]
    for proc in procs:
        proc.start()
    totals: Counter = Counter()
    for _ in procs:
        totals.update(out.get(timeout=SECONDS + 120))
    for proc in procs:
        proc.join(30)
    served = sum(totals.values())
    failures = {k: v for k, v in totals.items() if k[2] >= 500}
    assert served > 100 and not failures, (served, failures)
    assert all(k[2] in (200, 202) for k in totals), totals  # every request of the mix is valid
    from models.jobs.tables import Job

    for job in Job.select(Job.id).where(Job.status.in_(["queued", "running"])):
        wait_for_job(client, str(job.id), admin, timeout=60)
    assert reports.reconcile() == []
