"""SPEC §6.6 target scores: the pure arithmetic (property-based) and the three operations against PostgreSQL."""
from __future__ import annotations

import random
import uuid

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import Invalid, NotFound
from models.base import utcnow
from models.products import catalogue
from models.products.ops import GrantItem, grant
from models.products.tables import StudentExam
from models.scores import ops
from models.scores.tables import StudentExamScore
from tests.factories import make_student

EXAMPLE = orjson.loads(catalogue.EXAMPLE.read_bytes())
TYPES = {t["title"]: t["id"] for t in EXAMPLE["exam_types"]}
GMAT, GRE = TYPES["GMAT Focus"], TYPES["GRE"]
PROPERTY = settings(max_examples=200, deadline=None)


# -- the pure functions -----------------------------------------------------------------------------------------
@st.composite
def sections_st(draw) -> list[dict]:
    """1-6 sections (orders 1..n) with small bounds, min <= max (possibly min == max)."""
    out = []
    for order in range(1, draw(st.integers(1, 6)) + 1):
        low = draw(st.integers(0, 20))
        out.append({"order": order, "name": f"S{order}", "min": low, "max": draw(st.integers(low, low + 8))})
    return out


@st.composite
def cases(draw) -> tuple[list[dict], list[int], int]:
    """Sections, starting targets (possibly out of bounds) and a value within bounds(sections)."""
    sections = draw(sections_st())
    targets = [draw(st.integers(s["min"] - 4, s["max"] + 4)) for s in sections]
    low, high = ops.bounds(sections)
    return sections, targets, draw(st.integers(low, high))


def clamp(targets: list[int], sections: list[dict]) -> list[int]:
    return [min(max(t, s["min"]), s["max"]) for t, s in zip(targets, sections)]


def reference(targets: list[int], sections: list[dict], value: int) -> list[int]:
    """One point at a time: to the lowest section that can rise / from the highest that can fall (ties: lower order)."""
    out = clamp(targets, sections)
    while sum(out) != value:
        step = 1 if sum(out) < value else -1
        movable = [i for i, s in enumerate(sections) if (out[i] < s["max"] if step > 0 else out[i] > s["min"])]
        movable.sort(key=lambda i: (out[i] * step, i))
        out[movable[0]] += step
    return out


@PROPERTY
@given(cases())
def test_spread_matches_the_one_point_at_a_time_reference(case):
    sections, targets, value = case
    before = (list(targets), [dict(s) for s in sections])
    assert ops.spread(targets, sections, value) == reference(targets, sections, value)
    assert (targets, sections) == before  # inputs untouched


@PROPERTY
@given(cases())
def test_spread_invariants(case):
    sections, targets, value = case
    out = ops.spread(targets, sections, value)
    start = clamp(targets, sections)
    assert len(out) == len(sections) and sum(out) == value
    assert all(s["min"] <= t <= s["max"] for t, s in zip(out, sections))
    n = range(len(out))
    if value >= sum(start):  # raising: nothing fell, the raised ones were levelled up from the bottom
        assert all(out[i] >= start[i] for i in n)
        for i in (i for i in n if out[i] > start[i]):
            for j in (j for j in n if j != i and out[j] < sections[j]["max"]):
                assert out[i] <= out[j] + 1, (start, out)
    if value <= sum(start):  # lowering: nothing rose, the lowered ones were levelled down from the top
        assert all(out[i] <= start[i] for i in n)
        for i in (i for i in n if out[i] < start[i]):
            for j in (j for j in n if j != i and out[j] > sections[j]["min"]):
                assert out[i] >= out[j] - 1, (start, out)


@PROPERTY
@given(st.data())
def test_spread_out_of_bounds_is_a_value_error(data):
    sections = data.draw(sections_st())
    low, high = ops.bounds(sections)
    value = data.draw(st.one_of(st.integers(low - 50, low - 1), st.integers(high + 1, high + 50)))
    targets = [s["min"] for s in sections]
    with pytest.raises(ValueError):
        ops.spread(targets, sections, value)


@PROPERTY
@given(sections_st())
def test_bounds_and_midpoint(sections):
    assert ops.bounds(sections) == (sum(s["min"] for s in sections), sum(s["max"] for s in sections))
    for s in sections:
        mid = ops.midpoint(s)
        assert isinstance(mid, int) and s["min"] <= mid <= s["max"]
        assert 0 <= (s["max"] - mid) - (mid - s["min"]) <= 1  # the middle, rounded down


@PROPERTY
@given(sections_st(), st.randoms(use_true_random=False))
def test_initial_scores(sections, rnd: random.Random):
    shuffled = rnd.sample(sections, len(sections))
    rows = ops.initial_scores(shuffled)
    assert rows[0] == {"order": 0, "name": "total", "target_score": sum(r["target_score"] for r in rows[1:]),
                       "pts": None}
    assert rows[1:] == [{"order": s["order"], "name": s["name"], "target_score": ops.midpoint(s), "pts": None}
                        for s in sections]
    low, high = ops.bounds(sections)
    assert low <= rows[0]["target_score"] <= high


# -- the operations against PostgreSQL --------------------------------------------------------------------------
@pytest.fixture
def sid(conn) -> str:
    catalogue.load_file(catalogue.EXAMPLE)
    return str(make_student()["id"])


def row_of(student_id, exam_type_id) -> StudentExamScore:
    rows = list(StudentExamScore.select().where(StudentExamScore.student_id == student_id,
                                                StudentExamScore.exam_type_id == exam_type_id))
    assert len(rows) == 1
    return rows[0]


def targets(scores: list[dict]) -> list[int]:
    assert [s["order"] for s in scores] == list(range(len(scores)))
    assert scores[0]["name"] == "total" and scores[0]["target_score"] == sum(s["target_score"] for s in scores[1:])
    return [s["target_score"] for s in scores]


def test_change_target_creates_the_row_and_spreads(sid):
    body = ops.change_target(sid, GMAT, 230)  # from the midpoints 75/75/75: +2, +2, +1 (lowest, lower order first)
    assert targets(body["scores"]) == [230, 77, 77, 76]
    assert [s["name"] for s in body["scores"]] == ["total", "Quantitative", "Verbal", "Data Insights"]
    assert body["is_ts_attached_to_pts"] is False
    assert str(body["student_id"]) == sid and str(body["exam_type_id"]) == GMAT
    stored = row_of(sid, GMAT)
    assert stored.scores == body["scores"] and stored.is_ts_attached_to_pts is False
    assert targets(ops.change_target(sid, GMAT, 182)["scores"]) == [182, 60, 61, 61]  # highest first, ties: lower order
    assert targets(ops.change_target(sid, GMAT, 270)["scores"]) == [270, 90, 90, 90]
    assert targets(row_of(sid, GMAT).scores) == [270, 90, 90, 90]


@pytest.mark.parametrize("value", [179, 271, -1, 10_000])
def test_change_target_out_of_range(sid, value):
    with pytest.raises(Invalid) as info:
        ops.change_target(sid, GMAT, value)
    assert info.value.code == "scores.out-of-range"
    assert StudentExamScore.select().count() == 0


def test_change_target_unknown_exam_type(sid):
    with pytest.raises(NotFound):
        ops.change_target(sid, str(uuid.uuid4()), 200)
    assert StudentExamScore.select().count() == 0


def test_change_section_target(sid):
    body = ops.change_section_target(sid, GRE, 2, 165)
    assert targets(body["scores"]) == [315, 150, 165] and body["is_ts_attached_to_pts"] is False
    ops.reset_target(sid, grant_gre(sid))  # attached again ...
    body = ops.change_section_target(sid, GRE, 1, 130)  # ... and detached by a section change
    assert targets(body["scores"]) == [280, 130, 150] and body["is_ts_attached_to_pts"] is False
    stored = row_of(sid, GRE)
    assert targets(stored.scores) == [280, 130, 150] and stored.is_ts_attached_to_pts is False


@pytest.mark.parametrize("order, value, error", [(1, 129, Invalid), (2, 171, Invalid), (3, 150, NotFound),
                                                 (0, 150, NotFound)])
def test_change_section_target_errors(sid, order, value, error):
    with pytest.raises(error) as info:
        ops.change_section_target(sid, GRE, order, value)
    if error is Invalid:
        assert info.value.code == "scores.out-of-range"
    assert StudentExamScore.select().count() == 0
    with pytest.raises(NotFound):
        ops.change_section_target(sid, str(uuid.uuid4()), 1, 150)


def grant_gre(student_id) -> str:
    grant(student_id, [GrantItem("exam", "1003"), GrantItem("course", "3001")])
    return str(StudentExam.get(StudentExam.student_id == student_id, StudentExam.exam_type_id == GRE).id)


def test_reset_target_uses_pts_or_midpoint_and_attaches(sid):
    exam_id = grant_gre(sid)
    ops.change_target(sid, GRE, 340)
    stored = row_of(sid, GRE)
    scores = [dict(s) for s in stored.scores]
    scores[1]["pts"] = 162
    StudentExamScore.update(scores=scores).where(StudentExamScore.id == stored.id).execute()
    body = ops.reset_target(sid, exam_id)
    assert targets(body["scores"]) == [312, 162, 150] and body["is_ts_attached_to_pts"] is True
    assert [s["pts"] for s in body["scores"][1:]] == [162, None]
    stored = row_of(sid, GRE)
    assert targets(stored.scores) == [312, 162, 150] and stored.is_ts_attached_to_pts is True


def test_reset_target_without_a_row_creates_it_at_the_midpoints(sid):
    body = ops.reset_target(sid, grant_gre(sid))
    assert targets(body["scores"]) == [300, 150, 150] and body["is_ts_attached_to_pts"] is True


def test_reset_target_of_someone_elses_or_a_missing_or_deleted_exam_is_not_found(sid):
    other = str(make_student()["id"])
    others_exam = grant_gre(other)
    own = grant_gre(sid)
    StudentExam.update(deleted_at=utcnow()).where(StudentExam.id == own).execute()
    for exam_id in (others_exam, str(uuid.uuid4()), own):
        with pytest.raises(NotFound):
            ops.reset_target(sid, exam_id)
    assert StudentExamScore.select().count() == 0
