"""Merging two accounts (the deprecated transfer-products route): everything of "from" moves to "to", one transaction.

**Fix:** the original ran these steps without a transaction. The ledger stays exact: "from" first pays its whole
balance out (`outcome`/`transfering_products`), its history moves to "to" (netting to zero), and "to" is credited the
same amount (`income`/`transfering_products`, reference "from"), so for "to" the balance is income minus outcome.
"""
from __future__ import annotations

from uuid import UUID

from core import db as dbmod
from core.db import db
from core.errors import Invalid, NotFound
from models.ledger import ops as ledger

# Live rows of "from" that "to" already holds are dropped instead of moved (the unique grant keys).
_DUPLICATES = {
    "student_courses": ("NOT {a}.is_deleted", "{a}.product_id = {b}.product_id "
                        "AND COALESCE({a}.transaction_id, '') = COALESCE({b}.transaction_id, '')"),
    "student_exams": ("{a}.deleted_at IS NULL", "{a}.product_id = {b}.product_id "
                      "AND {a}.student_course_id IS NULL AND {b}.student_course_id IS NULL"),
    "student_books": ("{a}.deleted_at IS NULL", "{a}.product_id = {b}.product_id "
                      "AND {a}.student_course_id IS NULL AND {b}.student_course_id IS NULL"),
    "student_exam_scores": ("TRUE", "{a}.exam_type_id = {b}.exam_type_id"),
}


def merge(from_id: UUID | str, to_id: UUID | str) -> dict:
    """Move entitlements, scores and ledger of `from_id` to `to_id`, credit its balance, delete it for good."""
    from_id, to_id = str(from_id), str(to_id)
    if from_id == to_id:
        raise Invalid("A student cannot be merged into itself.", code="students.merge.same-student")
    with db.atomic():
        lock = " FOR UPDATE" if dbmod.is_postgres() else ""
        rows = {str(r[0]): r for r in dbmod.fetch_all(
            "SELECT id, salty_bucks_balance, has_books, has_exams, has_courses FROM students "
            "WHERE id IN (%s, %s) AND deleted_at IS NULL ORDER BY id" + lock, (from_id, to_id))}
        if from_id not in rows or to_id not in rows:
            raise NotFound("Student not found.", code="students.not-found")
        balance = rows[from_id][1]
        moved: dict[str, int] = {}
        if balance > 0:
            ledger.debit(from_id, balance, subtype="transfering_products", reference=ledger.Reference("student", to_id),
                         key=f"merge:{from_id}:out")
        for table, (live, same) in _DUPLICATES.items():
            dropped = dbmod.execute(
                f"DELETE FROM {table} WHERE student_id = %s AND " + live.format(a=table) + " AND EXISTS ("
                f"SELECT 1 FROM {table} AS t WHERE t.student_id = %s AND " + live.format(a="t") + " AND "
                + same.format(a="t", b=table) + ")", (from_id, to_id)).rowcount
            moved[table] = dbmod.execute(f"UPDATE {table} SET student_id = %s WHERE student_id = %s",
                                         (to_id, from_id)).rowcount
            moved[f"{table}_duplicates_dropped"] = dropped
        moved["salty_bucks_logs"] = ledger.move_entries(from_id, to_id)
        if balance > 0:
            ledger.credit(to_id, balance, subtype="transfering_products",
                          reference=ledger.Reference("student", from_id), key=f"merge:{from_id}:in")
        dbmod.execute("UPDATE students SET has_books = has_books OR %s, has_exams = has_exams OR %s, "
                      "has_courses = has_courses OR %s WHERE id = %s",
                      (bool(rows[from_id][2]), bool(rows[from_id][3]), bool(rows[from_id][4]), to_id))
        dbmod.execute("DELETE FROM students WHERE id = %s", (from_id,))
    return {"transferred_salty_bucks": balance, "moved": moved}
