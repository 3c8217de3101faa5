"""The jobs routes: visibility, listing, cancel, result, idempotency (SPEC §3)."""
from __future__ import annotations

import threading
import time
import uuid

from models.jobs import ops as jobs
from models.jobs.tables import Job
from models.students.tables import Student
from tasks import runner
from tests.factories import make_student


def _no_send(_job_id: str) -> None:
    """An enqueue that sends nothing: the job stays queued (as when the broker is down)."""


def submit(creator_id: str, typ: str = "admin", ids: list[str] | None = None, job_type: str = "students.delete"):
    params = {"ids": ids or [str(uuid.uuid4())]}
    job, _ = jobs.submit(job_type, params, creator=jobs.Creator(creator_id, typ), total=len(params["ids"]),
                         enqueue=_no_send)
    return job


def test_job_visible_to_its_creator_and_master_only(client, tokens, conn):
    admin_id = str(uuid.uuid4())
    job = submit(admin_id)
    own = client.simulate_get(f"/jobs/{job.id}", headers=tokens.bearer(tokens.manager(admin_id=admin_id)))
    assert own.status_code == 200 and own.json["id"] == str(job.id)
    assert own.json["created_by"] == {"id": admin_id, "typ": "admin"}
    assert own.json["links"] == {"self": f"/jobs/{job.id}", "cancel": f"/jobs/{job.id}/cancel"}
    other = client.simulate_get(f"/jobs/{job.id}", headers=tokens.bearer(tokens.manager()))
    assert other.status_code == 404 and other.json["code"] == "jobs.not-found"
    student = make_student()
    as_student = client.simulate_get(f"/jobs/{job.id}", headers=tokens.bearer(tokens.student(student["id"])))
    assert as_student.status_code == 404
    master = client.simulate_get(f"/jobs/{job.id}", headers=tokens.bearer(tokens.master()))
    assert master.status_code == 200


def test_student_sees_own_job(client, tokens, conn):
    student = make_student()
    job = submit(str(student["id"]), typ="student")
    resp = client.simulate_get(f"/jobs/{job.id}", headers=tokens.bearer(tokens.student(student["id"])))
    assert resp.status_code == 200 and resp.json["created_by"]["typ"] == "student"


def test_list_jobs_own_and_master_with_filters_and_cursor(client, tokens, conn):
    admin_id = str(uuid.uuid4())
    mine = [submit(admin_id) for _ in range(5)]
    submit(str(uuid.uuid4()))
    Job.update(status="failed").where(Job.id == mine[0].id).execute()
    headers = tokens.bearer(tokens.manager(admin_id=admin_id))

    seen, cursor = [], None
    while True:
        params = {"limit[take]": "2"} | ({"cursor": cursor} if cursor else {})
        page = client.simulate_get("/jobs", params=params, headers=headers).json
        assert page["meta"]["take"] == 2 and len(page["data"]) <= 2
        seen += [j["id"] for j in page["data"]]
        cursor = page["meta"]["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(j.id) for j in reversed(mine)]

    failed = client.simulate_get("/jobs", params={"filter[status]": "failed"}, headers=headers).json["data"]
    assert [j["id"] for j in failed] == [str(mine[0].id)]
    typed = client.simulate_get("/jobs", params={"filter[type]": "other"}, headers=headers).json["data"]
    assert typed == []
    everything = client.simulate_get("/jobs", params={"limit[take]": "100"},
                                     headers=tokens.bearer(tokens.master())).json["data"]
    assert len(everything) == 6


def test_students_cannot_list_jobs(client, tokens, conn):
    student = make_student()
    assert client.simulate_get("/jobs", headers=tokens.bearer(tokens.student(student["id"]))).status_code == 403


def test_cancel_queued_job_at_once_and_finished_job_is_409(client, tokens, conn, settings):
    admin_id = str(uuid.uuid4())
    job = submit(admin_id)
    headers = tokens.bearer(tokens.manager(admin_id=admin_id))
    resp = client.simulate_post(f"/jobs/{job.id}/cancel", headers=headers)
    assert resp.status_code == 200 and resp.json["status"] == "cancelled"
    assert resp.json["finished_at"] is not None
    again = client.simulate_post(f"/jobs/{job.id}/cancel", headers=headers)
    assert again.status_code == 409 and again.json["code"] == "jobs.already-finished"
    # A cancelled job is never claimed by a worker that receives it late.
    assert runner.execute(str(job.id), settings) is None


def test_cancel_running_job_stops_at_chunk_boundary(client, tokens, conn, settings):
    admin_id = str(uuid.uuid4())
    victims = [str(make_student()["id"]) for _ in range(6)]
    job = submit(admin_id, ids=victims)
    slow = settings.with_(job_chunk_size=1, job_chunk_pause=0.3)
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("status", runner.execute(str(job.id), slow)))
    thread.start()
    deadline = time.time() + 10
    while Job.get_by_id(job.id).progress_done < 1 and time.time() < deadline:
        time.sleep(0.05)
    resp = client.simulate_post(f"/jobs/{job.id}/cancel", headers=tokens.bearer(tokens.manager(admin_id=admin_id)))
    assert resp.status_code == 200 and resp.json["status"] == "running"
    thread.join(15)
    assert outcome["status"] == "cancelled"
    final = Job.get_by_id(job.id)
    assert final.status == "cancelled" and 1 <= final.progress_done < 6
    deleted = Student.select().where(Student.deleted_at.is_null(False)).count()
    assert deleted == final.progress_done == final.result["succeeded"]


def test_result_is_409_until_succeeded_then_the_result(client, tokens, conn, settings):
    admin_id = str(uuid.uuid4())
    victim = str(make_student()["id"])
    job = submit(admin_id, ids=[victim])
    headers = tokens.bearer(tokens.manager(admin_id=admin_id))
    early = client.simulate_get(f"/jobs/{job.id}/result", headers=headers)
    assert early.status_code == 409 and early.json["code"] == "jobs.not-finished"
    assert runner.execute(str(job.id), settings) == "succeeded"
    resp = client.simulate_get(f"/jobs/{job.id}/result", headers=headers)
    assert resp.status_code == 200 and resp.json == {"succeeded": 1, "failed": 0, "errors": []}
    body = client.simulate_get(f"/jobs/{job.id}", headers=headers).json
    assert body["links"]["result"] == f"/jobs/{job.id}/result" and "cancel" not in body["links"]


def test_idempotency_key_returns_the_same_job(client, tokens, conn):
    victims = [str(make_student()["id"]) for _ in range(2)]
    admin_id = str(uuid.uuid4())
    headers = tokens.bearer(tokens.manager(admin_id=admin_id)) | {"Idempotency-Key": "delete-batch-1"}
    first = client.simulate_patch("/students/delete", json={"ids": victims}, headers=headers)
    second = client.simulate_patch("/students/delete", json={"ids": victims}, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json["id"] == second.json["id"]
    assert first.headers["location"] == second.headers["location"]
    assert Job.select().count() == 1
    other = client.simulate_patch("/students/delete", json={"ids": victims[:1]}, headers=headers)
    assert other.status_code == 422 and other.json["code"] == "idempotency.key-reused"
    # The same key from another principal is another job.
    stranger = tokens.bearer(tokens.manager()) | {"Idempotency-Key": "delete-batch-1"}
    assert client.simulate_patch("/students/delete", json={"ids": victims}, headers=stranger).json["id"] != \
        first.json["id"]


def test_idempotency_key_expires_after_a_day(client, tokens, conn):
    import datetime as dt

    victims = [str(make_student()["id"])]
    headers = tokens.bearer(tokens.manager(admin_id="adm-1")) | {"Idempotency-Key": "k"}
    first = client.simulate_patch("/students/delete", json={"ids": victims}, headers=headers).json
    Job.update(created_at=Job.created_at - dt.timedelta(hours=25)).where(Job.id == first["id"]).execute()
    second = client.simulate_patch("/students/delete", json={"ids": victims}, headers=headers)
    assert second.status_code == 202 and second.json["id"] != first["id"]


def test_idempotency_key_length(client, tokens, conn):
    victims = [str(make_student()["id"])]
    for key in ("", "x" * 256):
        resp = client.simulate_patch("/students/delete", json={"ids": victims},
                                     headers=tokens.bearer(tokens.manager()) | {"Idempotency-Key": key})
        assert resp.status_code == 422 and resp.json["code"] == "idempotency.invalid-key"
