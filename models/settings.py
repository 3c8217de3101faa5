"""`app_settings`: named values with typed accessors and the defaults of SPEC §4."""
from __future__ import annotations

import peewee

from models.base import BaseModel, JSONField

DEFAULTS = {
    "salty_bucks_starting_balance": 100,
    "active_on_site_2min": 1,
    "active_on_site_30min": 5,
    "purchase_course": 50,
}


class AppSetting(BaseModel):
    name = peewee.TextField(primary_key=True)
    value = JSONField()

    class Meta:
        table_name = "app_settings"


def get_int(name: str) -> int:
    """The integer setting `name`, or its default when the row is missing."""
    row = AppSetting.select(AppSetting.value).where(AppSetting.name == name).tuples().first()
    value = row[0] if row else DEFAULTS[name]
    return int(value)
