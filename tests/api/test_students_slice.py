"""The vertical slice over HTTP: create, profiles, delete job."""
from __future__ import annotations

import uuid

from models.ledger.tables import SaltyBucksLog
from models.students.tables import Student
from tests.conftest import wait_for_job
from tests.factories import make_student


def create(client, tokens, **body):
    payload = {"student_email": "Ann.Lee@Example.com ", "student_name": "Ann Lee", "student_phone": "+15550001"}
    payload.update(body)
    return client.simulate_post("/students", json=payload, headers=tokens.bearer(tokens.master()))


def test_create_student_returns_admin_profile_and_writes_starting_balance(client, tokens, conn):
    resp = create(client, tokens, username="ann_lee", external_id=42)
    assert resp.status_code == 201, resp.text
    body = resp.json
    assert resp.headers["location"] == f"/students/{body['id']}/profile"
    assert body["email"] == "ann.lee@example.com"
    assert body["username"] == "ann_lee" and body["external_id"] == 42
    assert body["salty_bucks_balance"] == 100
    assert body["video_bg_music_enabled"] is False and body["login_count"] == 0
    assert "admin_note" in body
    entries = list(SaltyBucksLog.select().where(SaltyBucksLog.student == body["id"]))
    assert [(e.amount, e.operation_type, e.operation_subtype, e.reference_type, e.reference_id, e.balance_after)
            for e in entries] == [(100, "income", "initial_value", "student", body["id"], 100)]


def test_create_student_empty_external_id_and_username_mean_none(client, tokens):
    resp = create(client, tokens, external_id="", username="")
    assert resp.status_code == 201, resp.text
    assert resp.json["external_id"] is None and resp.json["username"] is None


def test_create_student_conflicts(client, tokens, conn):
    make_student(email="taken@example.com", username="Taken", external_id=7)
    cases = [
        ({"student_email": "TAKEN@example.com"}, "students.email.already-exists"),
        ({"username": "taken"}, "students.username.already-exists"),
        ({"external_id": 7}, "students.external-id.already-exists"),
    ]
    for body, code in cases:
        resp = create(client, tokens, **body)
        assert resp.status_code == 409, resp.text
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json["code"] == code
    assert Student.select().count() == 1


def test_deleted_students_free_their_email(client, tokens, conn):
    make_student(email="again@example.com", deleted=True)
    assert create(client, tokens, student_email="again@example.com").status_code == 201


def test_create_student_validation(client, tokens):
    cases = [
        ({"student_email": "not-an-email"}, "student_email"),
        ({"student_name": 5}, "student_name"),
        ({"external_id": "12"}, "external_id"),
        ({"external_id": True}, "external_id"),
        ({"username": "a b"}, "username"),
        ({"is_active": False}, "is_active"),
    ]
    for body, field in cases:
        resp = create(client, tokens, **body)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        assert any(e["field"] == field for e in resp.json["errors"]), resp.json


def test_create_student_missing_fields(client, tokens):
    resp = client.simulate_post("/students", json={}, headers=tokens.bearer(tokens.master()))
    assert resp.status_code == 422
    assert {e["field"] for e in resp.json["errors"]} == {"student_email", "student_name", "student_phone"}


def test_self_profile_hides_admin_columns(client, tokens, conn):
    student = make_student()
    Student.update(admin_note="secret", freeze_reason="why").where(Student.id == student["id"]).execute()
    resp = client.simulate_get("/students/profile", headers=tokens.bearer(tokens.student(student["id"])))
    assert resp.status_code == 200, resp.text
    body = resp.json
    assert body["id"] == str(student["id"])
    for hidden in ("admin_note", "freeze_reason", "frozen_at", "deleted_at"):
        assert hidden not in body
    assert "secret" not in resp.text
    assert body["is_impersonated"] is False and body["impersonated_by"] is None
    assert body["is_preview"] is False and body["preview_admin"] is None


def test_self_profile_shows_impersonation(client, tokens, conn):
    student = make_student()
    admin = {"id": "a1", "email": "boss@example.com", "role": "master_admin"}
    token = tokens.student(student["id"], impersonated_by=admin)
    body = client.simulate_get("/students/profile", headers=tokens.bearer(token)).json
    assert body["is_impersonated"] is True and body["impersonated_by"] == admin


def test_admin_profile(client, tokens, conn):
    student = make_student()
    resp = client.simulate_get(f"/students/{student['id']}/profile", headers=tokens.bearer(tokens.manager()))
    assert resp.status_code == 200
    assert resp.json["admin_note"] is None and resp.json["email"] == student["email"]


def test_admin_profile_of_missing_or_deleted_student_is_404(client, tokens, conn):
    gone = make_student(deleted=True)
    for sid in (uuid.uuid4(), gone["id"]):
        resp = client.simulate_get(f"/students/{sid}/profile", headers=tokens.bearer(tokens.manager()))
        assert resp.status_code == 404
        assert resp.json["code"] == "students.not-found"


def test_admin_profile_with_non_uuid_id_is_problem_404(client, tokens):
    resp = client.simulate_get("/students/not-a-uuid/profile", headers=tokens.bearer(tokens.manager()))
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"


def test_delete_job_end_to_end(client, tokens, conn, worker):
    victims = [make_student() for _ in range(3)]
    keep = make_student()
    token = tokens.manager()
    resp = client.simulate_patch("/students/delete", json={"ids": [str(v["id"]) for v in victims]},
                                 headers=tokens.bearer(token))
    assert resp.status_code == 202, resp.text
    job = resp.json
    assert resp.headers["location"] == f"/jobs/{job['id']}"
    assert resp.headers["retry-after"] == "1"
    assert job["status"] == "queued" and job["type"] == "students.delete"
    assert job["progress"] == {"done": 0, "total": 3, "percent": 0.0}
    done = wait_for_job(client, job["id"], token)
    assert done["status"] == "succeeded", done
    assert done["result"] == {"succeeded": 3, "failed": 0, "errors": []}
    assert done["progress"]["done"] == 3 and done["finished_at"] is not None
    deleted = {str(s.id) for s in Student.select().where(Student.deleted_at.is_null(False))}
    assert deleted == {str(v["id"]) for v in victims}
    assert Student.get_by_id(keep["id"]).deleted_at is None


def test_delete_with_missing_ids_is_404_and_changes_nothing(client, tokens, conn):
    alive = make_student()
    gone = make_student(deleted=True)
    unknown = str(uuid.uuid4())
    resp = client.simulate_patch("/students/delete", json={"ids": [str(alive["id"]), str(gone["id"]), unknown]},
                                 headers=tokens.bearer(tokens.manager()))
    assert resp.status_code == 404
    assert resp.json["code"] == "students.not-found"
    assert set(resp.json["ids"]) == {str(gone["id"]), unknown}
    assert Student.get_by_id(alive["id"]).deleted_at is None
    from models.jobs.tables import Job
    assert Job.select().count() == 0


def test_delete_validation(client, tokens):
    headers = tokens.bearer(tokens.manager())
    for body in ({"ids": []}, {"ids": ["nope"]}, {"ids": "x"}, {}, {"ids": [str(uuid.uuid4())], "force": True}):
        resp = client.simulate_patch("/students/delete", json=body, headers=headers)
        assert resp.status_code == 422, (body, resp.text)
    too_many = {"ids": [str(uuid.uuid4()) for _ in range(10_001)]}
    assert client.simulate_patch("/students/delete", json=too_many, headers=headers).status_code == 422


def test_concurrent_creates_with_the_same_email_give_one_account(client, tokens, conn):
    """Uniqueness is the database's job: racing requests get one 201 and 409s, never two rows or a 500."""
    from concurrent.futures import ThreadPoolExecutor

    token = tokens.master()

    def attempt(i: int):
        body = {"student_email": "race@example.com", "student_name": f"R{i}", "student_phone": "1"}
        return client.simulate_post("/students", json=body, headers=tokens.bearer(token)).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(16)))
    assert sorted(set(statuses)) == [201, 409] and statuses.count(201) == 1
    assert Student.select().where(Student.email == "race@example.com").count() == 1
