"""Schema migrations with peewee's own `pwmigrate` runner (files in models/migrations, history in a table)."""
from __future__ import annotations

from pathlib import Path

from playhouse.migrations import Runner

from core.db import db

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HISTORY_TABLE = "schema_migrations"


def runner() -> Runner:
    return Runner(db.obj, directory=str(MIGRATIONS), table_name=HISTORY_TABLE)


def migrate() -> list[str]:
    """Apply every pending migration in order; returns the names applied (empty when up to date)."""
    with db.connection_context():
        return runner().up()


def pending() -> list[str]:
    with db.connection_context():
        return [m.name for m in runner().status() if not m.applied and m.path]
