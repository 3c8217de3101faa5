"""Prometheus metrics, multi-process safe under gunicorn (PROMETHEUS_MULTIPROC_DIR, set by gunicorn.conf.py)."""
from __future__ import annotations

import logging
import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

REQUESTS = Counter("students_http_requests_total", "HTTP requests by route, method and status",
                   ["route", "method", "status"])
LATENCY = Histogram("students_http_request_duration_seconds", "HTTP request latency by route and method",
                    ["route", "method"], buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
AUTH_FAILURES = Counter("students_auth_failures_total", "Refused tokens by reason", ["reason"])


_CHILDREN: dict[tuple[str, str, int], tuple] = {}  # (route, method, status) -> the labelled counter and histogram


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    children = _CHILDREN.get((route, method, status))
    if children is None:  # routes are templates, so the keys are few; `labels()` on every request cost ~15 us
        children = _CHILDREN[(route, method, status)] = (REQUESTS.labels(route, method, str(status)),
                                                         LATENCY.labels(route, method))
    children[0].inc()
    children[1].observe(seconds)


def auth_failure(reason: str) -> None:
    AUTH_FAILURES.labels(reason).inc()


class JobsCollector:
    """Jobs by type and status (from PostgreSQL) and the broker queue depth, read at scrape time."""

    def __init__(self, count_jobs, queue_depth):
        self.count_jobs = count_jobs
        self.queue_depth = queue_depth

    def collect(self):
        jobs = GaugeMetricFamily("students_jobs", "Jobs by type and status", labels=["type", "status"])
        try:
            for job_type, status, count in self.count_jobs():
                jobs.add_metric([job_type, status], count)
        except Exception:  # a scrape must not fail because the database is away
            log.warning("metrics: job counts unavailable", exc_info=True)
        yield jobs
        depth = GaugeMetricFamily("students_queue_depth", "Messages waiting in the broker queue")
        try:
            value = self.queue_depth()
            if value is not None:
                depth.add_metric([], value)
        except Exception:  # nor because Redis is
            log.warning("metrics: queue depth unavailable", exc_info=True)
        yield depth


def render(extra_collector) -> tuple[bytes, str]:
    """The exposition text: every process's metrics in multi-process mode, this process's otherwise."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    scrape = CollectorRegistry()
    scrape.register(extra_collector)
    return generate_latest(registry) + generate_latest(scrape), CONTENT_TYPE_LATEST
