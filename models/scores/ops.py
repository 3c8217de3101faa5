"""Target scores (SPEC §6.6): the arithmetic as pure functions, and one operation per route.

A score row's `scores` is `[{order, name, target_score, pts}]` where order 0 is the total and orders from 1 are the
exam type's sections.
"""
from __future__ import annotations

from uuid import UUID

from core import db as dbmod
from core.db import db
from core.errors import Invalid, NotFound
from models.base import utcnow
from models.products.tables import ExamType, StudentExam
from models.scores.tables import StudentExamScore


def midpoint(section: dict) -> int:
    return (section["min"] + section["max"]) // 2


def bounds(sections: list[dict]) -> tuple[int, int]:
    """The lowest and highest total target these sections allow."""
    return sum(s["min"] for s in sections), sum(s["max"] for s in sections)


def spread(targets: list[int], sections: list[dict], value: int) -> list[int]:
    """New section targets summing to `value`, moved one point at a time from `targets`.

    Raising gives the point to the lowest section that can still rise; lowering takes it from the highest section
    that can still fall (ties go to the lower order). `value` must be within `bounds(sections)`.
    """
    low, high = bounds(sections)
    if not low <= value <= high:
        raise ValueError("value out of bounds")
    out = [min(max(t, s["min"]), s["max"]) for t, s in zip(targets, sections)]
    diff = value - sum(out)
    while diff > 0:
        i = min((i for i in range(len(out)) if out[i] < sections[i]["max"]), key=lambda i: (out[i], i))
        out[i] += 1
        diff -= 1
    while diff < 0:
        i = max((i for i in range(len(out)) if out[i] > sections[i]["min"]), key=lambda i: (out[i], -i))
        out[i] -= 1
        diff += 1
    return out


def initial_scores(sections: list[dict]) -> list[dict]:
    """A fresh score row: each section at its midpoint, no points yet, the total first."""
    rows = [{"order": s["order"], "name": s["name"], "target_score": midpoint(s), "pts": None}
            for s in sorted(sections, key=lambda s: s["order"])]
    return [{"order": 0, "name": "total", "target_score": sum(r["target_score"] for r in rows), "pts": None}] + rows


def _with_targets(scores: list[dict], targets: list[int]) -> list[dict]:
    sections = [dict(s, target_score=t) for s, t in zip(scores[1:], targets)]
    total = dict(scores[0], target_score=sum(targets))
    return [total] + sections


def _sections(exam_type_id: UUID | str) -> list[dict]:
    exam_type = ExamType.get_or_none(ExamType.id == exam_type_id)
    if exam_type is None:
        raise NotFound("Exam type not found.", code="exam-types.not-found")
    return sorted(exam_type.sections, key=lambda s: s["order"])


def _row(student_id, exam_type_id, sections: list[dict]) -> StudentExamScore:
    """The student's score row for the exam type, locked; created from the sections when missing."""
    def locked() -> StudentExamScore | None:
        query = StudentExamScore.select().where(StudentExamScore.student_id == student_id,
                                                StudentExamScore.exam_type_id == exam_type_id)
        return (query.for_update() if dbmod.is_postgres() else query).first()

    row = locked()
    if row is None:
        StudentExamScore.insert(student_id=student_id, exam_type_id=exam_type_id, scores=initial_scores(sections),
                                is_ts_attached_to_pts=True).on_conflict_ignore().execute()
        row = locked()
    return row


def _save(row: StudentExamScore, scores: list[dict], attached: bool) -> dict:
    row.scores, row.is_ts_attached_to_pts, row.updated_at = scores, attached, utcnow()
    row.save()
    return to_json(row)


def change_target(student_id: UUID | str, exam_type_id: UUID | str, value: int) -> dict:
    """Set the total target, spread over the sections; detaches the targets from the points."""
    sections = _sections(exam_type_id)
    low, high = bounds(sections)
    if not low <= value <= high:
        raise Invalid(f"The target must be between {low} and {high}.", code="scores.out-of-range",
                      errors=[{"field": "value", "message": f"must be between {low} and {high}"}])
    with db.atomic():
        row = _row(student_id, exam_type_id, sections)
        targets = spread([s["target_score"] for s in row.scores[1:]], sections, value)
        return _save(row, _with_targets(row.scores, targets), attached=False)


def change_section_target(student_id: UUID | str, exam_type_id: UUID | str, section_order: int, value: int) -> dict:
    """Set one section's target (within its bounds), recompute the total, detach."""
    sections = _sections(exam_type_id)
    section = next((s for s in sections if s["order"] == section_order), None)
    if section is None:
        raise NotFound("The exam type has no such section.", code="scores.section-not-found")
    if not section["min"] <= value <= section["max"]:
        raise Invalid(f"The target must be between {section['min']} and {section['max']}.",
                      code="scores.out-of-range",
                      errors=[{"field": "value", "message": f"must be between {section['min']} and {section['max']}"}])
    with db.atomic():
        row = _row(student_id, exam_type_id, sections)
        targets = [value if s["order"] == section_order else s["target_score"] for s in row.scores[1:]]
        return _save(row, _with_targets(row.scores, targets), attached=False)


def reset_target(student_id: UUID | str, student_exam_id: UUID | str) -> dict:
    """For the exam type of one of the student's exams: each target := its points (or the midpoint); attach."""
    exam = StudentExam.get_or_none(StudentExam.id == student_exam_id, StudentExam.student_id == student_id,
                                   StudentExam.deleted_at.is_null())
    if exam is None or exam.exam_type_id is None:
        raise NotFound("Exam not found.", code="exams.not-found")
    sections = _sections(exam.exam_type_id)
    with db.atomic():
        row = _row(student_id, exam.exam_type_id, sections)
        targets = [s["pts"] if s.get("pts") is not None else midpoint(sec)
                   for s, sec in zip(row.scores[1:], sections)]
        return _save(row, _with_targets(row.scores, targets), attached=True)


def to_json(row: StudentExamScore) -> dict:
    return {"id": row.id, "student_id": row.student_id, "exam_type_id": row.exam_type_id, "scores": row.scores,
            "is_ts_attached_to_pts": row.is_ts_attached_to_pts, "created_at": row.created_at,
            "updated_at": row.updated_at}
