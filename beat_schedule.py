"""The Celery beat schedule: name -> task, when, options. Only one beat process may run (see README)."""
from celery.schedules import crontab

SCHEDULE = {
    "redispatch-lost-jobs": {
        "task": "students.redispatch",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
}
