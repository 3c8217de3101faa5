"""Salty Bucks ledger operations: every balance change writes exactly one insert-only entry in the same transaction."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import peewee

from core import db as dbmod
from core.db import db
from core.errors import Conflict, NotFound
from models.ledger.tables import SaltyBucksLog
from models.students.tables import Student


@dataclass(frozen=True)
class Reference:
    """What a ledger entry points at: (`student`, id), (`admin`, id), (`site_activity`, None), ..."""

    type: str
    id: str | None = None


def _apply(student_id: UUID | str, delta: int, *, subtype: str, reference: Reference, key: str | None,
           metadata: dict[str, Any] | None) -> SaltyBucksLog:
    if delta == 0:
        raise ValueError("a ledger entry moves a positive amount")
    with db.atomic():
        if key is not None:
            existing = SaltyBucksLog.get_or_none(SaltyBucksLog.idempotency_key == key)
            if existing is not None:
                return existing
        query = (Student.update(salty_bucks_balance=Student.salty_bucks_balance + delta)
                 .where(Student.id == student_id))
        if delta < 0:
            query = query.where(Student.salty_bucks_balance >= -delta)
        row = query.returning(Student.salty_bucks_balance).tuples().execute()
        balance = next(iter(row), None)
        if balance is None:
            if delta < 0 and Student.select().where(Student.id == student_id).exists():
                raise Conflict("The Salty Bucks balance is too low for this debit.",
                               code="salty-bucks.insufficient-balance")
            raise NotFound("Student not found.", code="students.not-found")
        try:
            with db.atomic():
                return SaltyBucksLog.create(
                    student=student_id, amount=abs(delta),
                    operation_type="income" if delta > 0 else "outcome", operation_subtype=subtype,
                    reference_id=reference.id, reference_type=reference.type, metadata=metadata,
                    balance_after=balance[0], idempotency_key=key,
                )
        except peewee.IntegrityError:
            if key is None:
                raise
            # A concurrent caller committed the same key first: leaving this block undoes our balance change.
            raise _Replay(key) from None


class _Replay(Exception):
    """Raised inside the transaction so that it rolls back; caught outside it to return the first entry."""

    def __init__(self, key: str):
        self.key = key


def _with_replay(student_id, delta, **kwargs) -> SaltyBucksLog:
    try:
        return _apply(student_id, delta, **kwargs)
    except _Replay as replay:
        return SaltyBucksLog.get(SaltyBucksLog.idempotency_key == replay.key)


def credit(student_id: UUID | str, amount: int, *, subtype: str, reference: Reference, key: str | None = None,
           metadata: dict[str, Any] | None = None) -> SaltyBucksLog:
    """Give a student `amount` SB (> 0); a repeated idempotency `key` returns the first entry and changes nothing."""
    if amount <= 0:
        raise ValueError("credit amount must be positive")
    return _with_replay(student_id, amount, subtype=subtype, reference=reference, key=key, metadata=metadata)


def debit(student_id: UUID | str, amount: int, *, subtype: str, reference: Reference, key: str | None = None,
          metadata: dict[str, Any] | None = None) -> SaltyBucksLog:
    """Take `amount` SB (> 0) from a student; never below zero (409 `salty-bucks.insufficient-balance`)."""
    if amount <= 0:
        raise ValueError("debit amount must be positive")
    return _with_replay(student_id, -amount, subtype=subtype, reference=reference, key=key, metadata=metadata)


_CREDIT_MANY = """
WITH e AS (
    SELECT * FROM unnest(%s::uuid[], %s::int[], %s::text[], %s::text[]) AS e(student_id, amount, key, reference_id)
), totals AS (
    SELECT student_id, sum(amount) AS total FROM e GROUP BY student_id
), moved AS (
    UPDATE students s SET salty_bucks_balance = s.salty_bucks_balance + t.total
    FROM totals t WHERE s.id = t.student_id
    RETURNING s.id, s.salty_bucks_balance, t.total
)
INSERT INTO salty_bucks_logs (student_id, amount, operation_type, operation_subtype, reference_id, reference_type,
                              balance_after, idempotency_key, created_at)
SELECT e.student_id, e.amount, 'income', %s, e.reference_id, %s,
       m.salty_bucks_balance - m.total + sum(e.amount) OVER (PARTITION BY e.student_id ORDER BY e.key),
       e.key, now()
FROM e JOIN moved m ON m.id = e.student_id
"""


def credit_many(entries: list[tuple[str, int, str, str | None]], *, subtype: str, reference_type: str) -> int:
    """Set-based credits (PostgreSQL): (student_id, amount, idempotency key, reference id) each; one entry each.

    Each student's balance moves once by the sum of their amounts; the entries' `balance_after` run up to it.
    """
    if not entries:
        return 0
    if not dbmod.is_postgres():
        for student_id, amount, key, reference_id in entries:
            credit(student_id, amount, subtype=subtype, reference=Reference(reference_type, reference_id), key=key)
        return len(entries)
    students, amounts, keys, references = (list(column) for column in zip(*entries))
    dbmod.execute(_CREDIT_MANY, (students, amounts, keys, references, subtype, reference_type))
    return len(entries)


def move_entries(from_id: UUID | str, to_id: UUID | str) -> int:
    """Re-home a merged student's ledger entries (the only change the ledger allows besides inserts).

    Runs inside the merge's transaction; the flag lets the insert-only trigger pass a change of `student_id` alone.
    """
    if dbmod.is_postgres():
        dbmod.execute("SELECT set_config('students.ledger_move', 'on', true)")
    moved = dbmod.execute("UPDATE salty_bucks_logs SET student_id = %s WHERE student_id = %s",
                          (str(to_id), str(from_id))).rowcount
    if dbmod.is_postgres():
        dbmod.execute("SELECT set_config('students.ledger_move', 'off', true)")
    return moved


def _lock_balance(student_id: UUID | str, column: str = "salty_bucks_balance") -> int:
    """The student's current `column`, locking the row until the transaction ends (404 if missing or deleted)."""
    lock = " FOR UPDATE" if dbmod.is_postgres() else ""
    row = dbmod.fetch_one(f"SELECT {column} FROM students WHERE id = %s AND deleted_at IS NULL" + lock,
                          (str(student_id),))
    if row is None:
        raise NotFound("Student not found.", code="students.not-found")
    return row[0]


def set_balance(student_id: UUID | str, balance: int, *, admin_id: str) -> SaltyBucksLog | None:
    """An admin's absolute set: one entry for the difference (none when unchanged), under the row lock."""
    if balance < 0:
        raise ValueError("a balance is never negative")
    with db.atomic():
        current = _lock_balance(student_id)
        reference = Reference("admin", admin_id)
        if balance > current:
            return credit(student_id, balance - current, subtype="admin_set_balance", reference=reference)
        if balance < current:
            return debit(student_id, current - balance, subtype="admin_set_balance", reference=reference)
        return None


def cash_out_wallet(student_id: UUID | str) -> dict:
    """Move the whole wallet into the SB balance (one `wallet_cash_out` entry) and zero the wallet, atomically."""
    with db.atomic():
        wallet = _lock_balance(student_id, "wallet_balance")
        if wallet <= 0:
            balance = _lock_balance(student_id)
            return {"cashed_out": 0, "salty_bucks_balance": balance}
        dbmod.execute("UPDATE students SET wallet_balance = 0 WHERE id = %s", (str(student_id),))
        entry = credit(student_id, wallet, subtype="wallet_cash_out", reference=Reference("student", str(student_id)))
        return {"cashed_out": wallet, "salty_bucks_balance": entry.balance_after}
