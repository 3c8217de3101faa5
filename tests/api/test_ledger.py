"""SPEC §6.5 over HTTP: ledger lists, admin balance set, wallet cash-out, the balance graph, its windows."""
from __future__ import annotations

import calendar
import datetime as dt
import uuid

import pytest

from models.base import utcnow
from models.ledger import ops as ledger
from models.ledger import reports
from models.ledger.tables import DailyBalance, SaltyBucksLog
from models.students.tables import Student
from tests.factories import make_student

D = dt.date
UTC = dt.UTC
MISSING = str(uuid.uuid4())
MODES = {"current_week": "current_week", "currentWeek": "current_week", "previous_week": "previous_week",
         "previousWeek": "previous_week", "current_month": "current_month", "currentMonth": "current_month",
         "all_time": "all_time", "allTime": "all_time"}


# -- helpers -------------------------------------------------------------------------------------------------
def problem(resp, status: int, code: str | None = None, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    if code is not None:
        assert resp.json["code"] == code, resp.json
    if field is not None:
        assert any(e["field"] == field for e in resp.json["errors"]), resp.json
    return resp.json


def get(client, tokens, path: str, token: str, **params):
    return client.simulate_get(path, params=params, headers=tokens.bearer(token))


def entries(student_id) -> list[SaltyBucksLog]:
    return list(SaltyBucksLog.select().where(SaltyBucksLog.student == student_id).order_by(SaltyBucksLog.id))


def log(student_id, amount: int, when: dt.datetime, op: str = "income", subtype: str = "purchase_course"):
    """An entry written directly with a chosen `created_at` (the ledger cannot be updated afterwards)."""
    return SaltyBucksLog.create(student=student_id, amount=amount, operation_type=op,
                                operation_subtype=subtype, balance_after=amount, created_at=when)


def set_balance(client, tokens, student_id, body, token: str | None = None):
    return client.simulate_patch(f"/students/{student_id}/salty-bucks-balance", json=body,
                                 headers=tokens.bearer(token or tokens.manager()))


def graph(client, tokens, student_id, mode: str):
    return client.simulate_get(f"/students/{student_id}/salty-bucks/{mode}",
                               headers=tokens.bearer(tokens.manager()))


def dates(points: list[dict]) -> list[D]:
    return [D.fromisoformat(p["created_at"]) for p in points]


def consecutive(first: D, last: D) -> list[D]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _created(student_id, when: dt.datetime) -> None:
    Student.update(created_at=when).where(Student.id == student_id).execute()


def _snap(student_id, day: D, balance: int) -> None:
    DailyBalance.create(student_id=student_id, created_at=day, balance=balance, balance_diff_1=1,
                        balance_diff_7=7, balance_diff_30=30)


# -- guards --------------------------------------------------------------------------------------------------
WHO = ("none", "student", "author", "author_manager", "igor", "retail", "manager", "master")
ROUTES = {  # route -> the statuses for WHO, in order
    "GET own-logs": (401, 200, 403, 403, 403, 403, 403, 403),
    "POST cash-out": (401, 200, 403, 403, 403, 403, 403, 403),
    "GET student-logs": (401, 403, 403, 403, 200, 200, 200, 200),
    "GET graph": (401, 403, 403, 200, 403, 403, 200, 200),
    "PATCH balance": (401, 403, 403, 200, 403, 403, 200, 200),
}
PATHS = {"own-logs": "/students/salty-bucks-logs", "cash-out": "/students/wallet/cash-out",
         "student-logs": "/students/{id}/salty-bucks-logs",
         "graph": "/students/{id}/salty-bucks/current_week", "balance": "/students/{id}/salty-bucks-balance"}


def _token(tokens, who: str, student_id) -> str | None:
    return {"none": None, "student": tokens.student(student_id) if who == "student" else None,
            "author": tokens.admin("author_admin"),
            "author_manager": tokens.admin("author_admin", manage=True),
            "igor": tokens.admin("igor"), "retail": tokens.admin("retail_admin"),
            "manager": tokens.manager(), "master": tokens.master()}[who]


@pytest.mark.parametrize("route", list(ROUTES))
def test_guards(client, tokens, conn, subtests, route):
    student_id = make_student()["id"]
    method, name = route.split()
    for who, status in zip(WHO, ROUTES[route]):
        with subtests.test(who=who, status=status):
            token = _token(tokens, who, student_id)
            headers = tokens.bearer(token) if token else {}
            body = {"salty_bucks_balance": 5} if method == "PATCH" else None
            path = PATHS[name].format(id=student_id)
            resp = client.simulate_request(method, path, json=body, headers=headers)
            assert resp.status_code == status, resp.text
            if status == 401:
                assert resp.headers["www-authenticate"].startswith("Bearer")


# -- ledger lists --------------------------------------------------------------------------------------------
def test_student_sees_only_their_own_entries(client, tokens, conn):
    mine, other = make_student(), make_student()
    site = ledger.Reference("site_activity")
    ledger.credit(mine["id"], 7, subtype="active_on_site_30min", reference=site)
    for _ in range(3):
        ledger.credit(other["id"], 1, subtype="active_on_site_2min", reference=site)
    for student, count in ((mine, 2), (other, 4)):
        body = get(client, tokens, "/students/salty-bucks-logs", tokens.student(student["id"]),
                   **{"limit[take]": "100"}).json
        assert body["meta"]["recordsTotal"] == count and len(body["data"]) == count
        assert {e["student_id"] for e in body["data"]} == {str(student["id"])}


def test_ledger_readers_read_a_students_ledger(client, tokens, conn):
    student, other = make_student(), make_student()
    ledger.credit(other["id"], 9, subtype="purchase_course", reference=ledger.Reference("course", "c1"))
    for role in ("master_admin", "igor", "retail_admin"):
        body = get(client, tokens, f"/students/{student['id']}/salty-bucks-logs", tokens.admin(role)).json
        assert [(e["student_id"], e["amount"], e["operation_type"], e["operation_subtype"])
                for e in body["data"]] == [(str(student["id"]), 100, "income", "initial_value")]


def test_list_meta_and_paging(client, tokens, conn):
    student = make_student()
    for n in range(4):
        ledger.credit(student["id"], n + 1, subtype="purchase_course", reference=ledger.Reference("course"))
    token = tokens.student(student["id"])
    body = get(client, tokens, "/students/salty-bucks-logs", token,
               **{"limit[take]": "2", "limit[page]": "3"}).json
    assert body["meta"] == {"recordsTotal": 5, "pagesTotal": 3, "page": 3, "take": 2}
    assert [e["operation_subtype"] for e in body["data"]] == ["initial_value"]
    first = get(client, tokens, "/students/salty-bucks-logs", token).json
    assert first["meta"] == {"recordsTotal": 5, "pagesTotal": 1, "page": 1, "take": 10}
    assert set(first["data"][0]) >= {"id", "student_id", "amount", "operation_type", "operation_subtype",
                                     "reference_id", "reference_type", "balance_after", "created_at"}


def _dated_ledger(student_id) -> None:
    """Entries on 10, 11 and 12 January 2026 (the initial_value entry of today is the newest)."""
    log(student_id, 5, dt.datetime(2026, 1, 10, 0, 0, tzinfo=UTC))
    log(student_id, 30, dt.datetime(2026, 1, 10, 23, 59, 59, tzinfo=UTC), "outcome", "purchase_course")
    log(student_id, 250, dt.datetime(2026, 1, 11, 12, 0, tzinfo=UTC), subtype="wallet_cash_out")
    log(student_id, 70, dt.datetime(2026, 1, 12, 0, 0, tzinfo=UTC), "outcome", "admin_set_balance")


ORDERS = [
    ({}, [100, 70, 250, 30, 5]),
    ({"order[by]": "created_at"}, [100, 70, 250, 30, 5]),
    ({"order[dir]": "asc"}, [5, 30, 250, 70, 100]),
    ({"order[by]": "amount"}, [250, 100, 70, 30, 5]),
    ({"order[by]": "amount", "order[dir]": "asc"}, [5, 30, 70, 100, 250]),
]


def test_order(client, tokens, conn, subtests):
    student = make_student()
    _dated_ledger(student["id"])
    for params, amounts in ORDERS:
        with subtests.test(**params):
            path = f"/students/{student['id']}/salty-bucks-logs"
            body = get(client, tokens, path, tokens.master(), **params).json
            assert [e["amount"] for e in body["data"]] == amounts


FILTERS = [
    ({"filter[operation_type]": "outcome"}, [70, 30]),
    ({"filter[operation_type]": "income"}, [100, 250, 5]),
    ({"filter[operation_subtype]": "wallet_cash_out"}, [250]),
    ({"filter[operation_type]": "income", "filter[operation_subtype]": "purchase_course"}, [5]),
    ({"filter[from]": "2026-01-10", "filter[to]": "2026-01-11"}, [250, 30, 5]),
    ({"filter[from]": "2026-01-11", "filter[to]": "2026-01-11"}, [250]),
    ({"filter[to]": "2026-01-10"}, [30, 5]),
    ({"filter[from]": "2026-01-12", "filter[to]": "2026-01-12"}, [70]),
    ({"filter[from]": "2026-01-12"}, [100, 70]),
    ({"filter[from]": "2026-01-13", "filter[to]": "2026-01-20"}, []),
]


def test_filters(client, tokens, conn, subtests):
    student = make_student()
    _dated_ledger(student["id"])
    for params, amounts in FILTERS:
        with subtests.test(**params):
            token = tokens.student(student["id"])
            body = get(client, tokens, "/students/salty-bucks-logs", token, **params).json
            assert [e["amount"] for e in body["data"]] == amounts
            assert body["meta"]["recordsTotal"] == len(amounts)


BAD_PARAMS = [
    ("order[by]", "id"), ("order[by]", "balance_after"), ("order[by]", "student_id"), ("order[dir]", "up"),
    ("filter[operation_type]", "refund"), ("filter[from]", "2026-13-01"), ("filter[to]", "yesterday"),
    ("filter[from]", "2026-01-10T00:00:00Z"),
]


def test_bad_list_parameters_are_422(client, tokens, conn, subtests):
    student = make_student()
    for name, value in BAD_PARAMS:
        for path, token in (("/students/salty-bucks-logs", tokens.student(student["id"])),
                            (f"/students/{student['id']}/salty-bucks-logs", tokens.master())):
            with subtests.test(name=name, value=value, path=path):
                problem(get(client, tokens, path, token, **{name: value}), 422, field=name)


def test_last_representable_date_is_a_valid_filter(client, tokens, conn):
    student = make_student()
    resp = get(client, tokens, "/students/salty-bucks-logs", tokens.student(student["id"]),
               **{"filter[to]": "9999-12-31"})
    assert resp.status_code == 200 and resp.json["meta"]["recordsTotal"] == 1


# -- admin set -----------------------------------------------------------------------------------------------
def test_set_balance_raise_lower_and_same(client, tokens, conn):
    student = make_student()
    admin_id = str(uuid.uuid4())
    token = tokens.manager(admin_id=admin_id)
    raised = set_balance(client, tokens, student["id"], {"salty_bucks_balance": 150}, token)
    assert raised.status_code == 200 and raised.json["salty_bucks_balance"] == 150
    assert raised.json["id"] == str(student["id"]) and "admin_note" in raised.json
    lowered = set_balance(client, tokens, student["id"], {"salty_bucks_balance": 30}, token)
    assert lowered.status_code == 200 and lowered.json["salty_bucks_balance"] == 30
    same = set_balance(client, tokens, student["id"], {"salty_bucks_balance": 30}, token)
    assert same.status_code == 200 and same.json["salty_bucks_balance"] == 30
    rows = [(e.amount, e.operation_type, e.operation_subtype, e.reference_type, e.reference_id,
             e.balance_after) for e in entries(student["id"])[1:]]
    assert rows == [(50, "income", "admin_set_balance", "admin", admin_id, 150),
                    (120, "outcome", "admin_set_balance", "admin", admin_id, 30)]
    zero = set_balance(client, tokens, student["id"], {"salty_bucks_balance": 0})
    assert zero.json["salty_bucks_balance"] == 0
    assert reports.reconcile() == []


BAD_BODIES = [({"salty_bucks_balance": v}, "salty_bucks_balance") for v in (-1, 1.5, "10", True, None)] + [
    ({}, "salty_bucks_balance"), ({"salty_bucks_balance": 10, "wallet_balance": 5}, "wallet_balance")]


def test_set_balance_rejects_bad_bodies(client, tokens, conn, subtests):
    student = make_student()
    for body, field in BAD_BODIES:
        with subtests.test(body=body):
            problem(set_balance(client, tokens, student["id"], body), 422, field=field)
    assert Student.get_by_id(student["id"]).salty_bucks_balance == 100 and len(entries(student["id"])) == 1


def test_unknown_or_deleted_student_is_404(client, tokens, conn):
    gone = make_student(deleted=True)
    for sid in (MISSING, gone["id"]):
        problem(set_balance(client, tokens, sid, {"salty_bucks_balance": 5}), 404, "students.not-found")
        resp = get(client, tokens, f"/students/{sid}/salty-bucks-logs", tokens.master())
        problem(resp, 404, "students.not-found")
    assert Student.get_by_id(gone["id"]).salty_bucks_balance == 100


# -- wallet cash-out -----------------------------------------------------------------------------------------
def test_cash_out_moves_the_wallet_into_salty_bucks(client, tokens, conn):
    student = make_student()
    headers = tokens.bearer(tokens.student(student["id"]))
    empty = client.simulate_post("/students/wallet/cash-out", headers=headers)  # empty: writes nothing
    assert empty.status_code == 200 and empty.json == {"cashed_out": 0, "salty_bucks_balance": 100}
    assert empty.headers["deprecation"] == "true" and len(entries(student["id"])) == 1
    Student.update(wallet_balance=70).where(Student.id == student["id"]).execute()
    resp = client.simulate_post("/students/wallet/cash-out", headers=headers)
    assert resp.status_code == 200 and resp.json == {"cashed_out": 70, "salty_bucks_balance": 170}
    assert resp.headers["deprecation"] == "true"
    row = Student.get_by_id(student["id"])
    assert (row.wallet_balance, row.salty_bucks_balance) == (0, 170)
    last = entries(student["id"])[-1]
    assert (last.amount, last.operation_type, last.operation_subtype, last.balance_after) == (
        70, "income", "wallet_cash_out", 170)
    again = client.simulate_post("/students/wallet/cash-out", headers=headers)
    assert again.json == {"cashed_out": 0, "salty_bucks_balance": 170}
    assert len(entries(student["id"])) == 2 and reports.reconcile() == []


# -- balance graph over HTTP ---------------------------------------------------------------------------------
def test_graph_modes(client, tokens, conn, subtests):
    student, today = make_student(), utcnow().date()
    lengths = {"current_week": 7, "previous_week": 7, "all_time": 1,
               "current_month": calendar.monthrange(today.year, today.month)[1]}
    live = {"created_at": today.isoformat(), "balance": 100, "balance_diff_1": 100, "balance_diff_7": 100,
            "balance_diff_30": 100}
    for mode, canonical in MODES.items():
        with subtests.test(mode=mode):
            resp = graph(client, tokens, student["id"], mode)
            assert resp.status_code == 200, resp.text
            points = resp.json["data"]
            assert dates(points) == consecutive(*reports.window(canonical, today=today, created=today))
            assert len(points) == lengths[canonical]
            assert [p for p in points if p["balance"] is not None] == ([] if canonical == "previous_week"
                                                                       else [live])


def test_graph_unknown_mode_or_student_is_404(client, tokens, conn):
    student = make_student()
    for mode in ("last_year", "CURRENT_WEEK", "week", "current-week", "Current_Week"):
        problem(graph(client, tokens, student["id"], mode), 404, "salty-bucks.invalid-mode")
    problem(graph(client, tokens, MISSING, "all_time"), 404, "students.not-found")
    problem(graph(client, tokens, make_student(deleted=True)["id"], "all_time"), 404, "students.not-found")


def test_graph_today_is_live_and_gaps_are_null(client, tokens, conn):
    student = make_student()
    today = utcnow().date()
    _created(student["id"], utcnow() - dt.timedelta(days=3))
    _snap(student["id"], today - dt.timedelta(days=1), 60)
    reports.snapshot_range(today)
    assert DailyBalance.get(DailyBalance.created_at == today).balance == 100
    assert set_balance(client, tokens, student["id"], {"salty_bucks_balance": 250}).status_code == 200
    points = graph(client, tokens, student["id"], "allTime").json["data"]
    assert dates(points) == consecutive(today - dt.timedelta(days=3), today)
    assert [p["balance"] for p in points] == [None, None, 60, 250]
    assert points[-1] == {"created_at": today.isoformat(), "balance": 250, "balance_diff_1": 190,
                          "balance_diff_7": 250, "balance_diff_30": 250}
    assert points[0]["balance_diff_1"] is None and points[2]["balance_diff_1"] == 1


# -- window arithmetic and graph() with a fixed today --------------------------------------------------------
OLD = D(2020, 1, 1)
WINDOWS = [  # mode, today, created, first, last
    ("current_week", D(2026, 3, 1), OLD, D(2026, 2, 23), D(2026, 3, 1)),  # Sunday: the week began in February
    ("current_week", D(2026, 2, 23), OLD, D(2026, 2, 23), D(2026, 3, 1)),  # Monday
    ("current_week", D(2026, 4, 1), OLD, D(2026, 3, 30), D(2026, 4, 5)),  # a week spanning two months
    ("previous_week", D(2026, 3, 2), OLD, D(2026, 2, 23), D(2026, 3, 1)),
    ("previous_week", D(2026, 3, 1), OLD, D(2026, 2, 16), D(2026, 2, 22)),
    ("previous_week", D(2026, 1, 1), OLD, D(2025, 12, 22), D(2025, 12, 28)),  # across a year
    ("current_month", D(2028, 2, 10), OLD, D(2028, 2, 1), D(2028, 2, 29)),  # leap February
    ("current_month", D(2026, 2, 28), OLD, D(2026, 2, 1), D(2026, 2, 28)),
    ("current_month", D(2026, 1, 31), OLD, D(2026, 1, 1), D(2026, 1, 31)),
    ("current_month", D(2026, 12, 5), OLD, D(2026, 12, 1), D(2026, 12, 31)),
    ("all_time", D(2026, 6, 3), D(2026, 5, 30), D(2026, 5, 30), D(2026, 6, 3)),  # new account: from creation
    ("all_time", D(2026, 6, 3), D(2025, 4, 30), D(2025, 4, 30), D(2026, 6, 3)),  # exactly 400 days old
    ("all_time", D(2026, 6, 3), OLD, D(2025, 4, 30), D(2026, 6, 3)),  # an old one: the last 400 days
]


def test_window(subtests):
    for mode, today, created, first, last in WINDOWS:
        with subtests.test(mode=mode, today=today, created=created):
            assert reports.window(mode, today=today, created=created) == (first, last)
            if mode == "all_time":
                assert (last - first).days + 1 <= reports.ALL_TIME_MAX_DAYS


def test_graph_current_week_over_a_month_boundary(conn):
    student = make_student()
    _created(student["id"], dt.datetime(2020, 1, 1, tzinfo=UTC))
    today = D(2026, 3, 1)
    _snap(student["id"], D(2026, 2, 28), 40)
    _snap(student["id"], D(2026, 2, 22), 10)  # 7 days before today, outside the window
    _snap(student["id"], today - dt.timedelta(days=30), 5)
    points = reports.graph(student["id"], "currentWeek", today=today)
    assert dates(points) == consecutive(D(2026, 2, 23), today)
    assert [p["balance"] for p in points] == [None, None, None, None, None, 40, 100]
    assert points[5] == {"created_at": "2026-02-28", "balance": 40, "balance_diff_1": 1, "balance_diff_7": 7,
                         "balance_diff_30": 30}
    assert points[-1] == {"created_at": "2026-03-01", "balance": 100, "balance_diff_1": 60,
                          "balance_diff_7": 90, "balance_diff_30": 95}


def test_graph_previous_week_and_months(conn):
    student = make_student()
    _created(student["id"], dt.datetime(2020, 1, 1, tzinfo=UTC))
    _snap(student["id"], D(2026, 2, 23), 12)
    previous = reports.graph(student["id"], "previous_week", today=D(2026, 3, 4))
    assert dates(previous) == consecutive(D(2026, 2, 23), D(2026, 3, 1))
    assert [p["balance"] for p in previous] == [12] + [None] * 6
    leap = reports.graph(student["id"], "current_month", today=D(2028, 2, 10))
    assert dates(leap) == consecutive(D(2028, 2, 1), D(2028, 2, 29))
    assert [p["balance"] for p in leap if p["balance"] is not None] == [100]  # today only, live
    assert leap[9]["created_at"] == "2028-02-10" and leap[9]["balance"] == 100
    assert len(reports.graph(student["id"], "currentMonth", today=D(2026, 1, 31))) == 31
    assert len(reports.graph(student["id"], "current_month", today=D(2026, 2, 1))) == 28


def test_graph_all_time_from_creation_capped_at_400_days(conn):
    old, new, recent = make_student(), make_student(), make_student()
    today = utcnow().date()
    _created(old["id"], utcnow() - dt.timedelta(days=1000))
    _created(recent["id"], utcnow() - dt.timedelta(days=10))
    points = reports.graph(old["id"], "all_time", today=today)
    assert len(points) == 400 and dates(points) == consecutive(today - dt.timedelta(days=399), today)
    assert dates(reports.graph(new["id"], "all_time", today=today)) == [today]
    assert dates(reports.graph(recent["id"], "allTime", today=today)) == consecutive(
        today - dt.timedelta(days=10), today)
