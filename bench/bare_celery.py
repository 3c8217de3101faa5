"""The baseline for the dispatch benchmark: a bare Celery app whose no-op task records how late it started."""
from __future__ import annotations

import os
import time

import redis
from celery import Celery

app = Celery("bare", broker=os.environ["REDIS_URL"])
app.conf.update(task_ignore_result=True, worker_prefetch_multiplier=1, task_acks_late=True,
                task_default_queue=os.environ.get("CELERY_QUEUE", "bare"), worker_hijack_root_logger=False)
_redis = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.task(name="bare.noop")
def noop(sent_at: float, key: str) -> None:
    _redis.rpush(key, time.time() - sent_at)
