"""The worker's Celery app (`celery -A tasks.app ...`): settings, database binding, fork safety."""
from __future__ import annotations

from celery import signals

from core import config, db
from core import logging as jsonlog
from tasks.broker import make_celery

TASK_MODULES = ["tasks.runner"]

settings = config.get()
(config.ROOT / "var").mkdir(exist_ok=True)
if db.db.obj is None:  # a process that bound the database already (CLI, tests, benchmarks) keeps its pool
    db.init(settings.database_url, pool_size=4, application_name="students-worker")
celery_app = make_celery(settings, include=TASK_MODULES)
app = celery_app


@signals.setup_logging.connect
def _setup_logging(**_kwargs) -> None:
    jsonlog.setup(settings.log_level)


@signals.worker_process_init.connect
def _after_fork(**_kwargs) -> None:
    # A forked pool process must not reuse the parent's sockets.
    db.dispose()
