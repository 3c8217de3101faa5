"""The Celery beat schedule: name -> task, when, options. Only one beat process may run (see README)."""
from celery.schedules import crontab

SCHEDULE = {
    "redispatch-lost-jobs": {
        "task": "students.redispatch",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    "daily-salty-bucks-snapshot": {
        "task": "students.schedule_snapshot",
        "schedule": crontab(minute=5, hour=0),
    },
    "prune-inactive-accounts": {
        "task": "students.schedule_prune",
        "schedule": crontab(minute="*/15"),
    },
    "expire-exports": {
        "task": "students.expire_exports",
        "schedule": crontab(minute=17),
    },
    "weekly-ledger-reconciliation": {
        "task": "students.schedule_reconcile",
        "schedule": crontab(minute=30, hour=3, day_of_week="sunday"),
    },
}
