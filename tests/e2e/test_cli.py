"""The `students` console script against the test database."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jwt

from core import db
from models.products.tables import CourseEndDate, ExamType, Product
from tests.factories import make_student

ROOT = Path(__file__).resolve().parents[2]


def students(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tasks.cli", *args], cwd=ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, check=check, timeout=120)


def test_migrate_reports_nothing_to_apply():
    assert "nothing to apply" in students("migrate").stdout


def test_token_admin_and_student(settings, conn):
    out = students("token", "admin", "--role", "igor", "--manage-students", "--course-id", "c1").stdout.strip()
    claims = jwt.decode(out, settings.app_key, algorithms=["HS256"])
    assert claims["typ"] == "admin" and claims["admin_role"] == "igor"
    assert claims["can_manage_students"] is True and claims["course_ids"] == ["c1"]
    student = make_student()
    out = students("token", "student", str(student["id"])).stdout.strip()
    assert jwt.decode(out, settings.app_key, algorithms=["HS256"])["sub"] == str(student["id"])
    missing = students("token", "student", "00000000-0000-0000-0000-000000000000", check=False)
    assert missing.returncode == 1


def test_catalogue_load_is_idempotent(conn, tmp_path):
    example = ROOT / "models" / "products" / "catalogue.example.json"
    for _ in range(2):
        assert "loaded 2 exam_types, 7 products, 2 course_end_dates" in students("catalogue", "load",
                                                                                  str(example)).stdout
    assert (ExamType.select().count(), Product.select().count(), CourseEndDate.select().count()) == (2, 7, 2)
    data = json.loads(example.read_text())
    data["products"][0]["title"] = "Renamed"
    changed = tmp_path / "c.json"
    changed.write_text(json.dumps(data))
    students("catalogue", "load", str(changed))
    assert Product.get_by_id(data["products"][0]["id"]).title == "Renamed"
    data["products"][0]["price"] = 10
    changed.write_text(json.dumps(data))
    bad = students("catalogue", "load", str(changed), check=False)
    assert bad.returncode == 1 and "price" in bad.stderr


def test_seed_creates_students_whose_balances_match_their_ledgers(conn):
    assert "seeded 120 students" in students("seed", "--students", "120").stdout
    rows = db.fetch_all("""
        SELECT s.salty_bucks_balance,
               COALESCE(SUM(CASE l.operation_type WHEN 'income' THEN l.amount ELSE -l.amount END), 0)
        FROM students s LEFT JOIN salty_bucks_logs l ON l.student_id = s.id GROUP BY s.id""")
    assert len(rows) == 120
    assert all(balance == ledger for balance, ledger in rows)
    assert len({r[0] for r in rows}) > 1
