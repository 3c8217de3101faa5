"""Identity flows of the storefronts: SSO sync, the shop's account upsert and external-id assignment."""
from __future__ import annotations

from dataclasses import dataclass

from core.db import db
from core.errors import Conflict, Forbidden, NotFound
from models.products import ops as products
from models.students import ops as students


@dataclass
class SyncResult:
    student: dict
    unknown_products: list[str]


def sync_student(*, email: str, name: str, phone_number: str, username: str | None,
                 grants: list[products.GrantItem]) -> SyncResult:
    """Find or create the account by e-mail, grant the listed products, advance `login_count` (1, 2, 3, 1, ...).

    An existing account's name, phone and e-mail are not changed; an inactive one is refused (403).
    """
    email = students.normalize_email(email, "student_email")
    for attempt in (1, 2):
        with db.atomic():
            row = students.find_by_email(email)
            if row is None:
                try:
                    row = students.create_student(email=email, name=name, phone_number=phone_number,
                                                  username=username)
                except Conflict as exc:
                    if exc.code == "students.email.already-exists" and attempt == 1:
                        continue  # a concurrent sync created it: take that account
                    raise
            elif not row["is_active"]:
                raise Forbidden("The student account is inactive.", code="students.account-inactive")
            outcome = products.grant(row["id"], grants, skip_unknown=True)
            row = students.record_login(row["id"])
            return SyncResult(row, outcome.unknown)
    raise AssertionError("unreachable")


def upsert_with_external_id(*, external_id: int, email: str, name: str, phone_number: str) -> tuple[str, bool]:
    """The shop's account: update the holder of `external_id`, or create it; returns (id, created)."""
    email = students.normalize_email(email)
    with db.atomic():
        holder = students.find_by_external_id(external_id, for_update=True)
        owner = students.find_by_email(email)
        if owner is not None and (holder is None or owner["id"] != holder["id"]):
            raise Conflict("A student with this e-mail already exists.", code="students.email.already-exists")
        if holder is not None:
            students.update_student(holder["id"], {"email": email, "name": name.strip(),
                                                   "phone_number": phone_number.strip()})
            return str(holder["id"]), False
        created = students.create_student(email=email, name=name, phone_number=phone_number,
                                          external_id=external_id)
        return str(created["id"]), True


def assign_external_id(*, email: str, external_id: int) -> dict:
    """Give the student with `email` the shop customer id (409 if it has another, or another has this one)."""
    with db.atomic():
        row = students.find_by_email(students.normalize_email(email))
        if row is None:
            raise NotFound("No student has this e-mail.", code="students.not-found")
        if row["external_id"] == external_id:
            return row
        if row["external_id"] is not None:
            raise Conflict("The student already has another external id.",
                           code="students.external-id.already-assigned")
        return students.update_student(row["id"], {"external_id": external_id})
