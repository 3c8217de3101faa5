"""Loading the catalogue (exam types, products, course end dates) from one JSON document; upserts by id."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.db import db
from core.errors import Invalid
from models.products.tables import CourseEndDate, ExamType, Product

EXAMPLE = Path(__file__).with_name("catalogue.example.json")


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Section(_Item):
    order: int = Field(ge=1)
    name: str
    min: int
    max: int


class ExamTypeIn(_Item):
    id: UUID
    title: str
    sections: list[Section] = Field(min_length=1)


class ProductIn(_Item):
    id: UUID
    external_id: str | int
    type: Literal["exam", "course", "book", "course_extension"]
    title: str
    access_days: int = Field(default=365, ge=0)
    is_free_trial: bool = False
    exam_type_id: UUID | None = None
    course_type: str | None = None
    course_id: UUID | None = None
    includes: list[UUID] = Field(default_factory=list)


class CourseEndDateIn(_Item):
    id: UUID
    course_id: UUID
    end_date: dt.date
    semester_name: str = ""


class Catalogue(_Item):
    exam_types: list[ExamTypeIn] = Field(default_factory=list)
    products: list[ProductIn] = Field(default_factory=list)
    course_end_dates: list[CourseEndDateIn] = Field(default_factory=list)


def parse(raw: bytes) -> Catalogue:
    try:
        return Catalogue.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise Invalid(f"The catalogue file is not valid: {exc}", code="catalogue.invalid") from None


def _upsert(model, rows: list[dict]) -> None:
    if not rows:
        return
    columns = [f for f in rows[0] if f != "id"]
    for start in range(0, len(rows), 500):
        (model.insert_many(rows[start:start + 500])
         .on_conflict(conflict_target=[model.id], preserve=[getattr(model, c) for c in columns])
         .execute())


def load(catalogue: Catalogue) -> dict[str, int]:
    """Upsert every item by id in one transaction (extensions after the courses they extend); returns counts."""
    products = [p.model_dump() | {"external_id": str(p.external_id),
                                  "includes": [str(i) for i in p.includes]} for p in catalogue.products]
    for item in catalogue.products:
        if item.type == "exam" and item.exam_type_id is None:
            raise Invalid(f"Exam product {item.id} has no exam_type_id.", code="catalogue.invalid")
        if item.type == "course_extension" and item.course_id is None:
            raise Invalid(f"Course extension {item.id} has no course_id.", code="catalogue.invalid")
    with db.atomic():
        _upsert(ExamType, [e.model_dump(mode="json") for e in catalogue.exam_types])
        _upsert(Product, [p for p in products if p["course_id"] is None])
        _upsert(Product, [p for p in products if p["course_id"] is not None])
        _upsert(CourseEndDate, [c.model_dump() for c in catalogue.course_end_dates])
    return {"exam_types": len(catalogue.exam_types), "products": len(products),
            "course_end_dates": len(catalogue.course_end_dates)}


def load_file(path: Path) -> dict[str, int]:
    return load(parse(Path(path).read_bytes()))
