"""run_job(job_id): claim the job row, dispatch by job type, work in committed chunks, heartbeat, finish."""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import peewee

from core import config
from core import logging as jsonlog
from core.db import connection, db
from core.errors import DomainError
from models.jobs import ops as jobs
from models.jobs.tables import Job
from tasks.app import celery_app, settings
from tasks.broker import Dispatcher, redispatch_stale

log = logging.getLogger(__name__)

Handler = Callable[["JobContext"], "dict | None"]
HANDLERS: dict[str, Handler] = {}


def job_handler(job_type: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of `job_type`."""
    def register(fn: Handler) -> Handler:
        HANDLERS[job_type] = fn
        return fn
    return register


class JobCancelled(Exception):
    """A cancel was requested; raised after the current chunk committed."""


@dataclass
class Chunk:
    """What one chunk did: how many items succeeded and the per-item errors."""

    succeeded: int = 0
    errors: list[dict] = field(default_factory=list)
    done: int | None = None  # items done, when it is not the chunk's size
    state: dict | None = None  # where to resume after this chunk, when a list offset does not say it

    def fail(self, item: str, code: str, message: str) -> None:
        self.errors.append({"item": item, "code": code, "message": message})


class JobContext:
    def __init__(self, job: Job, settings: config.Settings):
        self.job = job
        self.settings = settings
        self.params = job.params
        self.expires_at = None  # a handler that leaves a file sets when it goes (exports)

    def chunks(self, items: Sequence) -> Iterator[Sequence]:
        """The items not yet done (resuming after a crash), `JOB_CHUNK_SIZE` at a time."""
        size = self.settings.job_chunk_size
        for start in range(self.job.progress_done, len(items), size):
            yield items[start:start + size]

    @contextlib.contextmanager
    def chunk(self, size: int) -> Iterator[Chunk]:
        """One transaction: the chunk's effect and its progress commit together, or neither does."""
        record = Chunk()
        with db.atomic():
            yield record
            cancel = jobs.record_chunk(self.job, done=size if record.done is None else record.done,
                                       succeeded=record.succeeded, errors=record.errors, state=record.state)
        if self.settings.job_chunk_pause:
            time.sleep(self.settings.job_chunk_pause)
        if cancel:
            raise JobCancelled()


class _Heartbeat(threading.Thread):
    """Beats every few seconds on its own connection, so a long chunk does not look like a dead worker."""

    def __init__(self, job: Job, every: float):
        super().__init__(daemon=True, name=f"heartbeat-{job.id}")
        self.job, self.every, self.stopped = job, every, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                with connection():
                    jobs.heartbeat(self.job)
            except peewee.PeeweeException:
                log.warning("heartbeat failed", exc_info=True)


def execute(job_id: str, settings: config.Settings) -> str | None:
    """Run one job to its end (or until it is cancelled or lost); returns its final status, None if not ours."""
    token = jsonlog.job_id.set(job_id)
    try:
        with connection():
            job = jobs.claim(job_id, heartbeat_timeout=settings.job_heartbeat_timeout)
            if job is None:
                jobs.fail_exhausted(job_id)
                return None
            if job.attempts > jobs.MAX_ATTEMPTS:
                jobs.fail_exhausted(job_id)
                return "failed"
            return _run_claimed(job, settings)
    finally:
        jsonlog.job_id.reset(token)


def _run_claimed(job: Job, settings: config.Settings) -> str | None:
    handler = HANDLERS.get(job.type)
    if handler is None:
        jobs.finish(job, "failed", error={"code": "jobs.unknown-type", "message": f"No handler for {job.type}."})
        return "failed"
    beat = _Heartbeat(job, every=max(1.0, min(5.0, settings.job_heartbeat_timeout / 4)))
    beat.start()
    try:
        ctx = JobContext(job, settings)
        result = handler(ctx)
        jobs.finish(job, "succeeded", result=result, expires_at=ctx.expires_at)
        return "succeeded"
    except JobCancelled:
        jobs.finish(job, "cancelled")
        return "cancelled"
    except jobs.LostClaim:
        log.warning("job taken over by another worker; stopping")
        return None
    except DomainError as exc:
        jobs.finish(job, "failed", error={"code": exc.code, "message": exc.detail})
        return "failed"
    except (peewee.OperationalError, peewee.InterfaceError):
        # Infrastructure: leave the job running; its heartbeat goes stale and it is re-dispatched.
        raise
    except Exception:  # a bug in a handler must not leave the job running for ever
        log.exception("job crashed")
        jobs.finish(job, "failed", error={"code": "jobs.crashed", "message": "The job stopped on an internal error."})
        return "failed"
    finally:
        beat.stopped.set()


@celery_app.task(name="students.run_job", acks_late=True, reject_on_worker_lost=True, ignore_result=True,
                 autoretry_for=(peewee.OperationalError, peewee.InterfaceError), retry_backoff=1, max_retries=5)
def run_job(job_id: str) -> str | None:
    """Celery entry point: the job row, not the message, carries everything."""
    return execute(job_id, settings)


dispatcher = Dispatcher(settings, celery=celery_app)
SYSTEM = jobs.Creator("beat", "system")


def submit_system_job(job_type: str, params: dict, key: str, total: int = 0) -> str:
    """Submit a scheduled job once per key (a duplicated beat tick returns the first job)."""
    with connection():
        job, _ = jobs.submit(job_type, params, creator=SYSTEM, total=total, idempotency_key=key,
                             enqueue=dispatcher.send)
    return str(job.id)


@celery_app.task(name="students.redispatch", ignore_result=True, acks_late=False)
def redispatch() -> int:
    """Beat, every 30 s: re-send jobs the broker lost (queued too long, or running with a stale heartbeat)."""
    return len(redispatch_stale(dispatcher, queued_for=settings.job_redispatch_after))


# The handler modules register themselves on import; importing them here makes `execute` complete on its own.
from tasks import admin, bulk, ledger, products  # noqa: E402,F401
