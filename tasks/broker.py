"""Building Celery apps from Settings (reliability settings of DESIGN §4), publishing jobs, re-sending lost ones.

Importing this module has no side effects: the web process uses it to publish without loading any task code.
"""
from __future__ import annotations

import logging

from celery import Celery

import beat_schedule
from core import config
from core.db import connection
from models.jobs import ops as jobs

log = logging.getLogger(__name__)

# Longer than any job may run: an unacknowledged message comes back only after this (the heartbeat-based
# re-dispatch brings back a killed worker's job much sooner).
VISIBILITY_TIMEOUT = 6 * 3600


def make_celery(settings: config.Settings, *, include: list[str] | None = None, publisher: bool = False) -> Celery:
    """A Celery app for `settings`; `include` names the task modules.

    A `publisher` app (the web process) tries the broker once instead of retrying for seconds: a request must not
    wait on a broker outage, since the job row already holds the promise.
    """
    app = Celery("students", include=include or [])
    transport_options: dict = {"visibility_timeout": VISIBILITY_TIMEOUT}
    if publisher:
        transport_options.update(max_retries=1, interval_start=0, interval_step=0.1, interval_max=0.2)
    if settings.redis_url:
        transport_options.update(socket_timeout=30, socket_connect_timeout=2 if publisher else 5)
    else:
        folder = settings.broker_dir
        for sub in ("out", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        transport_options.update(data_folder_in=str(folder / "out"), data_folder_out=str(folder / "out"),
                                 processed_folder=str(folder / "processed"), store_processed=False,
                                 control_folder=str(folder / "control"))
    app.conf.update(
        broker_url=settings.broker_url,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_default_queue=settings.queue,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=True,
        task_send_sent_event=True,
        beat_schedule=beat_schedule.SCHEDULE,
        beat_schedule_filename=str(config.ROOT / "var" / "celerybeat-schedule"),
    )
    return app


RUN_JOB = "students.run_job"


class Dispatcher:
    """Publishes `run_job(job_id)`; a broker failure is logged, never raised (the job row is the promise)."""

    def __init__(self, settings: config.Settings, celery=None):
        self.settings = settings
        self.celery = celery if celery is not None else make_celery(settings, publisher=True)

    def send(self, job_id: str) -> bool:
        try:
            self.celery.send_task(RUN_JOB, args=[job_id], retry=False)
            return True
        except Exception as exc:  # any broker failure: the job stays queued for the re-dispatch schedule
            log.warning("job publish failed; the re-dispatch schedule will resend it",
                        extra={"job": job_id, "error": type(exc).__name__})
            return False

    def close(self) -> None:
        self.celery.close()


def redispatch_stale(dispatcher: Dispatcher, *, queued_for: int = 60) -> list[str]:
    """Re-send jobs queued for over `queued_for` s and running jobs whose heartbeat is stale; returns their ids."""
    with connection():
        ids = jobs.stale_job_ids(queued_for=queued_for,
                                 heartbeat_timeout=dispatcher.settings.job_heartbeat_timeout)
    for job_id in ids:
        dispatcher.send(job_id)
    if ids:
        log.info("re-dispatched jobs", extra={"count": len(ids)})
    return ids
