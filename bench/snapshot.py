"""Daily SB snapshot of 1,000,000 students: the job vs the equivalent single `INSERT ... SELECT` (target <= 2x, < 60 s).

Snapshots 1, 7 and 30 days back exist, so the job does its three look-ups as it would in production.
"""
from __future__ import annotations

import datetime as dt
import os
import statistics

from bench import common

STUDENTS = int(os.environ.get("BENCH_STUDENTS", "1000000"))


def run() -> dict:
    common.environment()
    common.fresh_database()
    from core import config, db
    from models.jobs.types import LEDGER_SNAPSHOT
    from models.ledger import reports
    from models.students import seed
    from tasks import runner
    from tasks.runner import submit_system_job

    settings = config.get()
    today = dt.date.today()
    with db.connection():
        seed.seed_students(STUDENTS)
        for back in (1, 7, 30):
            reports.snapshot_range(today - dt.timedelta(days=back))
        db.execute("VACUUM ANALYZE")

    def prepare() -> None:
        """Remove today's snapshot and its dead rows, flush dirty pages: each run starts from the same table."""
        with db.connection():
            db.execute("DELETE FROM salty_bucks_daily_log WHERE created_at = %s", (today,))
            db.execute("VACUUM salty_bucks_daily_log")
            common.settle()

    def service() -> float:
        prepare()
        with db.connection():
            job_id = submit_system_job(LEDGER_SNAPSHOT, {"day": today.isoformat()}, f"bench:{os.urandom(4).hex()}",
                                       STUDENTS)
        seconds = common.timed(lambda: runner.execute(job_id, settings))
        with db.connection():
            assert db.fetch_one("SELECT count(*) FROM salty_bucks_daily_log WHERE created_at = %s",
                                (today,))[0] == STUDENTS
        return seconds

    def baseline() -> float:
        prepare()
        with db.connection(), db.db.atomic():
            return common.timed(lambda: reports.snapshot_range(today))

    runs = [(service(), baseline()) for _ in range(3)]  # interleaved, so neither side gets the quieter minutes
    service_s = statistics.median(r[0] for r in runs)
    baseline_s = statistics.median(r[1] for r in runs)
    ratio = service_s / baseline_s
    return common.report("snapshot", {
        "students": STUDENTS, "service_seconds": service_s, "baseline_seconds": baseline_s, "ratio": ratio,
        "target_ratio": 2.0, "target_seconds": 60.0, "pass": ratio <= 2.0 and service_s < 60.0,
    })


if __name__ == "__main__":
    run()
