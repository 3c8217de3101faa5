"""The peewee base model and the few portable field types (PostgreSQL for real, SQLite for the embedded default)."""
from __future__ import annotations

import datetime as dt
import os
import time
import uuid

import orjson
import peewee

from core.db import db, is_postgres

UTC = dt.UTC


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): time-ordered, so new rows land at the right edge of the primary-key index."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = ((ms & 0xFFFF_FFFF_FFFF) << 80) | (0x7 << 76) | (((rand >> 62) & 0xFFF) << 64) | (0b10 << 62) \
        | (rand & 0x3FFF_FFFF_FFFF_FFFF)
    return uuid.UUID(int=value)


def as_utc(value: dt.datetime | str | None) -> dt.datetime | None:
    """A database timestamp as an aware UTC datetime (SQLite hands back text, psycopg2 a fixed offset)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class TimestampField(peewee.Field):
    """`timestamptz` on PostgreSQL, ISO text on SQLite; always aware UTC in Python."""

    field_type = "TIMESTAMPTZ"

    def db_value(self, value):
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            value = as_utc(value)
            return value if is_postgres() else value.isoformat()
        return value

    def python_value(self, value):
        return as_utc(value)


class DateField(peewee.DateField):
    def python_value(self, value):
        if isinstance(value, dt.datetime):
            return value.date()
        return super().python_value(value)


class JSONField(peewee.Field):
    """`jsonb` on PostgreSQL, text on SQLite."""

    field_type = "JSONB"

    def db_value(self, value):
        return None if value is None else orjson.dumps(value).decode()

    def python_value(self, value):
        if isinstance(value, (str, bytes)):
            return orjson.loads(value)
        return value


class UUIDField(peewee.UUIDField):
    """Native uuid on PostgreSQL, 36-char text on SQLite (peewee's default there is 32 hex chars)."""

    def db_value(self, value):
        if value is None:
            return None
        if not isinstance(value, uuid.UUID):
            value = uuid.UUID(str(value))
        return str(value)


class BaseModel(peewee.Model):
    class Meta:
        database = db
        legacy_table_names = False


def select_sql(model: type[BaseModel], columns: tuple[str, ...]) -> str:
    """`SELECT <columns> FROM <table>` for a hot-path query whose rows go through `row_to_dict`."""
    return "SELECT " + ", ".join(columns) + " FROM " + model._meta.table_name


def row_to_dict(model: type[BaseModel], columns: tuple[str, ...], row: tuple) -> dict:
    """One raw row as a dict of Python values (psycopg2 already converts; SQLite text needs the fields' help)."""
    if is_postgres():
        return dict(zip(columns, row))
    fields = model._meta.fields
    return {c: (None if v is None else fields[c].python_value(v)) for c, v in zip(columns, row)}
