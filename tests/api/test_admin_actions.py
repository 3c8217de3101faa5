"""SPEC §6.7 admin actions: activity (one and bulk), freeze, unfreeze, admin note, and the export request."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from models.students.tables import ADMIN_COLUMNS, Student
from tests.factories import make_student, sql_statements

MANAGER, MASTER = "students_manager", "master"
ROUTES = [  # (method, path, body, guard)
    ("PATCH", "/students/{id}/is-active", {"is_active": False}, MANAGER),
    ("PATCH", "/students/bulk/is-active", {"ids": ["{id}"], "is_active": False}, MANAGER),
    ("PATCH", "/students/{id}/freeze", {"freeze_reason": "chargeback"}, MASTER),
    ("PATCH", "/students/{id}/unfreeze", None, MASTER),
    ("PATCH", "/students/{id}/admin-note", {"admin_note": "watch"}, MASTER),
    ("POST", "/students/export-csv", {"columns": ["id"]}, MANAGER),
]


def call(client, method: str, path: str, token: str | None, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.simulate_request(method, path, json=body, headers=headers)


def fill(value, sid: str):
    if isinstance(value, str):
        return value.replace("{id}", sid)
    if isinstance(value, list):
        return [fill(v, sid) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, sid) for k, v in value.items()}
    return value


def row(sid) -> Student:
    return Student.get_by_id(str(sid))


# -- guards and 404s ----------------------------------------------------------------------------------------
def test_guards_refuse_and_change_nothing(client, tokens, conn):
    sid = str(make_student()["id"])
    before = row(sid).__data__.copy()
    refusals = [(None, 401), (tokens.student(sid), 403), (tokens.admin("author_admin"), 403),
                (tokens.admin("igor"), 403)]
    for method, path, body, guard in ROUTES:
        cases = refusals + ([(tokens.manager(), 403)] if guard == MASTER else [])
        for token, status in cases:
            resp = call(client, method, fill(path, sid), token, fill(body, sid))
            assert resp.status_code == status, (path, status, resp.text)
            assert resp.headers["content-type"] == "application/problem+json"
            if status == 401:
                assert resp.headers["www-authenticate"].startswith("Bearer")
    assert row(sid).__data__ == before
    for method, path, body, guard in ROUTES:
        allowed = [tokens.master()] + ([tokens.manager(), tokens.admin("author_admin", manage=True)]
                                       if guard == MANAGER else [])
        for token in allowed:
            resp = call(client, method, fill(path, sid), token, fill(body, sid))
            assert resp.status_code in (200, 202), (path, resp.text)


def test_unknown_or_deleted_student_is_404(client, tokens, conn):
    gone = str(make_student(deleted=True)["id"])
    for method, path, body, _guard in ROUTES:
        if "{id}" not in path:
            continue
        for sid in (str(uuid.uuid4()), gone):
            resp = call(client, method, fill(path, sid), tokens.master(), body)
            assert resp.status_code == 404, (path, resp.text)
            assert resp.json["code"] == "students.not-found"
    assert row(gone).admin_note is None and row(gone).is_frozen is False and row(gone).is_active is True


# -- activity -----------------------------------------------------------------------------------------------
def test_is_active(client, tokens, conn):
    student = make_student()
    sid, token = str(student["id"]), tokens.manager()
    resp = call(client, "PATCH", f"/students/{sid}/is-active", token, {"is_active": False})
    assert resp.status_code == 200, resp.text
    assert set(resp.json) == set(ADMIN_COLUMNS) and resp.json["is_active"] is False and resp.json["id"] == sid
    own = {"Authorization": f"Bearer {tokens.student(sid, student['email'])}"}
    assert client.simulate_get("/students/profile", headers=own).status_code == 401
    resp = call(client, "PATCH", f"/students/{sid}/is-active", token, {"is_active": True})
    assert resp.json["is_active"] is True
    assert client.simulate_get("/students/profile", headers=own).status_code == 200
    for bad in ({}, {"is_active": "false"}, {"is_active": 0}, {"is_active": None},
                {"is_active": False, "name": "x"}):
        assert call(client, "PATCH", f"/students/{sid}/is-active", token, bad).status_code == 422, bad
    assert row(sid).is_active is True


def test_bulk_is_active_is_one_statement(client, tokens, conn):
    sids = [str(make_student()["id"]) for _ in range(3)]
    keep = str(make_student()["id"])
    with sql_statements() as seen:
        resp = call(client, "PATCH", "/students/bulk/is-active", tokens.manager(),
                    {"ids": [sids[0], sids[1], sids[0].upper(), sids[2]], "is_active": False})
    assert resp.status_code == 200, resp.text
    assert resp.json == {"updated": 3}
    assert len(seen) == 1 and seen[0].lstrip().upper().startswith("UPDATE"), seen  # and nothing else
    assert [row(s).is_active for s in sids + [keep]] == [False, False, False, True]
    resp = call(client, "PATCH", "/students/bulk/is-active", tokens.master(),
                {"ids": sids, "is_active": True})
    assert resp.json == {"updated": 3} and all(row(s).is_active for s in sids)


def test_bulk_is_active_with_unknown_or_deleted_ids_is_404_and_changes_nothing(client, tokens, conn):
    live = [str(make_student()["id"]) for _ in range(2)]
    gone, unknown = str(make_student(deleted=True)["id"]), str(uuid.uuid4())
    resp = call(client, "PATCH", "/students/bulk/is-active", tokens.manager(),
                {"ids": [live[0], unknown, live[1], gone], "is_active": False})
    assert resp.status_code == 404, resp.text
    assert resp.json["code"] == "students.not-found" and resp.json["ids"] == [unknown, gone]
    assert all(row(s).is_active for s in live + [gone])


def test_bulk_is_active_validation(client, tokens, conn):
    sid, token = str(make_student()["id"]), tokens.manager()
    many = [str(uuid.uuid4()) for _ in range(10_001)]
    for bad in ({"ids": [], "is_active": False}, {"ids": many, "is_active": False}, {"ids": [sid]},
                {"ids": ["nope"], "is_active": False}, {"ids": sid, "is_active": False},
                {"ids": [sid], "is_active": "no"}, {"ids": [sid], "is_active": False, "reason": "x"}):
        resp = call(client, "PATCH", "/students/bulk/is-active", token, bad)
        assert resp.status_code == 422, (str(bad)[:80], resp.text[:200])
    resp = call(client, "PATCH", "/students/bulk/is-active", token,
                {"ids": [sid] + many[:9_999], "is_active": False})
    assert resp.status_code == 404 and len(resp.json["ids"]) == 9_999  # 10,000 ids are accepted
    assert row(sid).is_active is True


# -- freeze -------------------------------------------------------------------------------------------------
def test_freeze_and_unfreeze(client, tokens, conn):
    sid, token = str(make_student()["id"]), tokens.master()
    before = dt.datetime.now(dt.UTC)
    resp = call(client, "PATCH", f"/students/{sid}/freeze", token, {"freeze_reason": "chargeback"})
    assert resp.status_code == 200, resp.text
    body = resp.json
    assert set(body) == set(ADMIN_COLUMNS)
    assert body["is_frozen"] is True and body["freeze_reason"] == "chargeback"
    frozen_at = dt.datetime.fromisoformat(body["frozen_at"])
    assert before - dt.timedelta(seconds=1) <= frozen_at <= dt.datetime.now(dt.UTC)
    assert row(sid).is_frozen is True
    resp = call(client, "PATCH", f"/students/{sid}/unfreeze", token)
    assert resp.status_code == 200, resp.text
    assert resp.json["is_frozen"] is False
    assert (resp.json["freeze_reason"], resp.json["frozen_at"]) == ("chargeback", body["frozen_at"])
    assert (row(sid).is_frozen, row(sid).freeze_reason) == (False, "chargeback")
    again = call(client, "PATCH", f"/students/{sid}/freeze", token, {}).json
    assert again["is_frozen"] is True and again["freeze_reason"] is None
    assert dt.datetime.fromisoformat(again["frozen_at"]) >= frozen_at
    for bad in ({"freeze_reason": 5}, {"freeze_reason": "x", "is_frozen": False}, {"reason": "x"}):
        assert call(client, "PATCH", f"/students/{sid}/freeze", token, bad).status_code == 422, bad


# -- admin note ---------------------------------------------------------------------------------------------
def test_admin_note(client, tokens, conn):
    student = make_student()
    sid, token = str(student["id"]), tokens.master()
    note = "é" * 10_000  # characters, not bytes
    resp = call(client, "PATCH", f"/students/{sid}/admin-note", token, {"admin_note": note})
    assert resp.status_code == 200, resp.text
    assert resp.json["admin_note"] == note and row(sid).admin_note == note
    for bad in ({"admin_note": "x" * 10_001}, {}, {"admin_note": 5}, {"admin_note": "x", "is_frozen": True}):
        resp = call(client, "PATCH", f"/students/{sid}/admin-note", token, bad)
        assert resp.status_code == 422, (str(bad)[:40], resp.text[:200])
    assert row(sid).admin_note == note
    call(client, "PATCH", f"/students/{sid}/admin-note", token, {"admin_note": "SECRET-NOTE"})
    own = {"Authorization": f"Bearer {tokens.student(sid, student['email'])}"}
    for resp in (client.simulate_get("/students/profile", headers=own),
                 client.simulate_patch("/students/set-theme", json={"theme": "dark"}, headers=own)):
        assert resp.status_code == 200, resp.text
        assert "admin_note" not in resp.json and "SECRET-NOTE" not in resp.text
    resp = call(client, "PATCH", f"/students/{sid}/admin-note", token, {"admin_note": None})
    assert resp.status_code == 200 and resp.json["admin_note"] is None and row(sid).admin_note is None


# -- export request -----------------------------------------------------------------------------------------
DEFAULT_COLUMNS = ["id", "name", "email", "username", "phone_number", "external_id",
                   "salty_bucks_balance", "is_active", "is_frozen", "has_courses", "has_exams", "has_books",
                   "created_at", "logged_at"]


def test_export_is_accepted_as_a_job(client, tokens, conn):
    token = tokens.manager()
    resp = call(client, "POST", "/students/export-csv", token, None)
    assert resp.status_code == 202, resp.text
    job = resp.json
    assert resp.headers["location"] == f"/jobs/{job['id']}" and resp.headers["retry-after"] == "1"
    assert job["type"] == "students.export-csv" and job["status"] == "queued"
    assert job["params"] == {"filter": {}, "columns": DEFAULT_COLUMNS, "bom": False}
    course = str(uuid.uuid4())
    body = {"filter": {"search": "ann", "course_id": course, "is_active": True},
            "columns": ["email", "name"], "bom": True}
    job = call(client, "POST", "/students/export-csv", token, body).json
    assert job["params"] == {"filter": {"search": "ann", "course_id": course, "is_active": True},
                             "columns": ["email", "name"], "bom": True}


@pytest.mark.parametrize("body,field", [
    ({"columns": ["id", "password"]}, "columns"), ({"columns": ["id", "id"]}, "columns"),
    ({"columns": ["ID"]}, "columns"),
])
def test_export_unknown_columns(client, tokens, body, field):
    resp = call(client, "POST", "/students/export-csv", tokens.manager(), body)
    assert resp.status_code == 422, resp.text
    assert resp.json["code"] == "exports.invalid-columns"
    assert [e["field"] for e in resp.json["errors"]] == [field]


def test_export_body_validation(client, tokens):
    token = tokens.master()
    for bad in ({"format": "xlsx"}, {"columns": []}, {"columns": "id"}, {"columns": [1]}, {"bom": "yes"},
                {"filter": {"is_active": "true"}}, {"filter": {"is_frozen": 1}},
                {"filter": {"course_id": "x"}}, {"filter": {"end_date_id": 3002}}, {"filter": {"search": 5}},
                {"filter": {"search": "x" * 256}}, {"filter": {"name": "ann"}}, {"filter": "ann"},
                {"columns": ["id"] * 41}):
        resp = call(client, "POST", "/students/export-csv", token, bad)
        assert resp.status_code == 422, (bad, resp.text)
        assert resp.headers["content-type"] == "application/problem+json" and resp.json["errors"]
