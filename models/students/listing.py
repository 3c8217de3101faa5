"""Admin lists of students (SPEC §6.7): one filter grammar for v1, v2, v3 and the CSV export, all in SQL.

Each page is one query whose per-row aggregates are correlated sub-queries (no query per row), plus one count.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson

from core import db as dbmod
from models.base import as_utc, row_to_dict, utcnow
from models.students.tables import ADMIN_COLUMNS, Student

SORTS = ("created_at", "name", "email", "salty_bucks_balance", "logged_at")
RECENT_DAYS = 5


@dataclass(frozen=True)
class Filter:
    search: str | None = None
    course_id: str | None = None
    course_type: str | None = None
    end_date_id: str | None = None
    is_active: bool | None = None
    is_frozen: bool | None = None
    course_scope: tuple[str, ...] | None = None  # v3: an admin limited to these courses


def escape_like(term: str) -> str:
    """`term` as a literal LIKE pattern fragment: %, _ and \\ match themselves."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search() -> str:
    """The search condition over `students s`. PostgreSQL matches the narrow `student_search` table (migration 0004:
    live students only, trigram-indexed, trigger-kept); SQLite the same lower-cased text on the row."""
    if dbmod.is_postgres():
        return "EXISTS (SELECT 1 FROM student_search x WHERE x.student_id = s.id AND x.doc LIKE %s ESCAPE '\\')"
    return "lower(s.name || char(31) || s.email || char(31) || coalesce(s.username, '')) LIKE %s ESCAPE '\\'"


def _pattern(term: str) -> str:
    return "%" + escape_like(term.lower()) + "%"


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(["%s"] * len(values)) + ")"


def where(f: Filter) -> tuple[str, list[Any]]:
    """The WHERE clause (over `students s`) and its parameters."""
    parts, params = ["s.deleted_at IS NULL"], []
    if f.search:
        parts.append(_search())
        params.append(_pattern(f.search))
    course = [(f"sc.{column} = %s", value) for column, value in
              (("product_id", f.course_id), ("type", f.course_type), ("end_date_id", f.end_date_id)) if value]
    if course:
        parts.append("EXISTS (SELECT 1 FROM student_courses sc WHERE sc.student_id = s.id AND NOT sc.is_deleted AND "
                     + " AND ".join(c for c, _ in course) + ")")
        params += [v for _, v in course]
    if f.course_scope is not None:
        if not f.course_scope:
            parts.append("FALSE" if dbmod.is_postgres() else "0")
        else:
            parts.append("EXISTS (SELECT 1 FROM student_courses sc WHERE sc.student_id = s.id AND NOT sc.is_deleted "
                         "AND sc.product_id IN " + _in(f.course_scope) + ")")
            params += list(f.course_scope)
    for column in ("is_active", "is_frozen"):
        value = getattr(f, column)
        if value is not None:
            parts.append(f"s.{column} = %s")
            params.append(value)
    return " AND ".join(parts), params


def _order(order_by: str, direction: str) -> str:
    """ORDER BY with PostgreSQL's null placement (last ascending, first descending), so that each sort is one
    btree index scanned forwards or backwards; SQLite is told the same placement explicitly."""
    dir_sql = "DESC" if direction == "desc" else "ASC"
    nulls = "" if dbmod.is_postgres() else (" NULLS FIRST" if direction == "desc" else " NULLS LAST")
    return f"s.{order_by} {dir_sql}{nulls}, s.id {dir_sql}"


_AGGREGATES = """,
    (SELECT COALESCE(SUM(CASE WHEN l.operation_type = 'income' THEN l.amount ELSE -l.amount END), 0)
     FROM salty_bucks_logs l WHERE l.student_id = s.id AND l.created_at >= %s) AS recently_earning,
    (SELECT COUNT(*) FROM student_exams e WHERE e.student_id = s.id AND e.deleted_at IS NULL
       AND (e.accessible_to > %s OR e.status = 'scheduled'))
    + (SELECT COUNT(*) FROM student_courses c WHERE c.student_id = s.id AND NOT c.is_deleted
       AND (c.accessible_to > %s OR c.status = 'scheduled')) AS active_products,
    (SELECT COUNT(*) FROM student_courses c WHERE c.student_id = s.id AND NOT c.is_deleted
       AND (c.accessible_to > %s OR c.status = 'scheduled')) AS active_courses"""


def _courses_json(scope: tuple[str, ...] | None) -> tuple[str, list]:
    limit = ("AND c.product_id IN " + _in(scope)) if scope else ""
    if dbmod.is_postgres():
        sql = (",\n    (SELECT COALESCE(json_agg(json_build_object('id', c.id, 'title', c.title, 'type', c.type, "
               "'status', c.status, 'end_date_id', c.end_date_id, 'semester_name', d.semester_name) "
               "ORDER BY c.created_at, c.id), '[]'::json) "
               "FROM student_courses c LEFT JOIN course_end_dates d ON d.id = c.end_date_id "
               f"WHERE c.student_id = s.id AND NOT c.is_deleted {limit}) AS courses")
    else:
        sql = (",\n    (SELECT COALESCE(json_group_array(json_object('id', c.id, 'title', c.title, 'type', c.type, "
               "'status', c.status, 'end_date_id', c.end_date_id, 'semester_name', d.semester_name)), '[]') "
               "FROM student_courses c LEFT JOIN course_end_dates d ON d.id = c.end_date_id "
               f"WHERE c.student_id = s.id AND NOT c.is_deleted {limit}) AS courses")
    return sql, list(scope or ())


def _columns() -> str:
    return ", ".join(f"s.{c}" for c in ADMIN_COLUMNS)


def page(f: Filter, *, order_by: str, direction: str, page_no: int, take: int, aggregates: bool = True,
         courses: bool = False) -> tuple[list[dict], int]:
    """One page of students (admin profile + aggregates, + courses for v3) and the total matching."""
    clause, params = where(f)
    select, select_params = _columns(), []
    if aggregates:
        now = utcnow()
        select += _AGGREGATES
        select_params += [now - dt.timedelta(days=RECENT_DAYS), now, now, now]
    if courses:
        sql, extra = _courses_json(f.course_scope)
        select += sql
        select_params += extra
    rows = dbmod.fetch_all(f"SELECT {select} FROM students s WHERE {clause} ORDER BY {_order(order_by, direction)} "
                           "LIMIT %s OFFSET %s", select_params + params + [take, (page_no - 1) * take])
    return [_shape(r, aggregates, courses) for r in rows], count(f, clause, params)


def count(f: Filter, clause: str, params: list) -> int:
    """The exact number of matching students, on PostgreSQL from trigger-kept tables where the filter allows:
    the counts by flag (migration 0003) when only the flags filter, the narrow search table (migration 0004) when
    only the search does; else `count(*)` with the same WHERE."""
    courses = f.course_id or f.course_type or f.end_date_id or f.course_scope is not None
    flagged = f.is_active is not None or f.is_frozen is not None
    if dbmod.is_postgres() and f.search and not (courses or flagged):
        return dbmod.fetch_one("SELECT COUNT(*) FROM student_search WHERE doc LIKE %s ESCAPE '\\'",
                               [_pattern(f.search)])[0]
    if dbmod.is_postgres() and not (f.search or courses):
        flags = [(c, getattr(f, c)) for c in ("is_active", "is_frozen") if getattr(f, c) is not None]
        sql = "SELECT COALESCE(SUM(n), 0) FROM student_counts" + (
            " WHERE " + " AND ".join(f"{c} = %s" for c, _ in flags) if flags else "")
        return int(dbmod.fetch_one(sql, [v for _, v in flags])[0])
    return dbmod.fetch_one(f"SELECT COUNT(*) FROM students s WHERE {clause}", params)[0]


def _shape(row: tuple, aggregates: bool, courses: bool) -> dict:
    n = len(ADMIN_COLUMNS)
    out = row_to_dict(Student, ADMIN_COLUMNS, row[:n])
    rest = list(row[n:])
    if aggregates:
        out["recently_earning"], out["active_products"], out["active_courses"] = (int(v) for v in rest[:3])
        rest = rest[3:]
    if courses:
        value = rest[0]
        out["courses"] = value if isinstance(value, list) else orjson.loads(value)
    return out


def keyset_page(f: Filter, *, order_by: str, direction: str, after: tuple[Any, str] | None,
                take: int) -> list[dict]:
    """A page after the (sort value, id) keyset `after`: constant time however deep (v2)."""
    clause, params = where(f)
    if after is not None:
        value, last_id = after
        op = "<" if direction == "desc" else ">"
        col = f"s.{order_by}"
        if direction == "asc":  # values ascending, then the NULLs
            if value is None:
                clause += f" AND {col} IS NULL AND s.id > %s"
                params = params + [last_id]
            else:
                clause += f" AND ({col} > %s OR ({col} = %s AND s.id > %s) OR {col} IS NULL)"
                params = params + [value, value, last_id]
        elif value is None:  # descending: the NULLs first, then the values descending
            clause += f" AND (({col} IS NULL AND s.id < %s) OR {col} IS NOT NULL)"
            params = params + [last_id]
        else:
            clause += f" AND ({col} {op} %s OR ({col} = %s AND s.id {op} %s))"
            params = params + [value, value, last_id]
    rows = dbmod.fetch_all(f"SELECT {_columns()} FROM students s WHERE {clause} "
                           f"ORDER BY {_order(order_by, direction)} LIMIT %s", params + [take])
    return [row_to_dict(Student, ADMIN_COLUMNS, r) for r in rows]


def sort_value(row: dict, order_by: str) -> Any:
    value = row[order_by]
    return as_utc(value).isoformat() if isinstance(value, dt.datetime) else value
